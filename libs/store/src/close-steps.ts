import { StrataError, ioError, isStrataError } from '@strata/core';
import type { StrataErrorDetails } from '@strata/core';

/**
 * One step of closing a store, in the order they run (the tree, the log and a new store's
 * creation at once).
 */
export type CloseStep = 'flush' | 'background' | 'tree' | 'log' | 'creation' | 'lock';

/** A close step that failed, as kept in the error's `details.otherFailures`. */
export interface CloseStepFailure {
  readonly step: CloseStep;
  readonly file: string;
  readonly code: string;
  readonly message: string;
}

/**
 * Runs the steps of a close one after the other, each even when an earlier one failed (a failed
 * fsync of the log must not leave the directory lock held), and remembers every failure so none
 * is hidden: {@link throwIfFailed} reports the first one and lists the rest.
 */
export class CloseSteps {
  private readonly failures: { step: CloseStep; file: string; error: StrataError }[] = [];

  /** Runs `action`; a failure is recorded (as a StrataError about `file`), never thrown here. */
  async run(step: CloseStep, file: string, action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      this.record(step, file, error);
    }
  }

  /**
   * Runs independent steps at the same time, each as {@link run} would; their failures are
   * recorded in the order listed, whichever finished first.
   */
  async runAtOnce(
    steps: readonly { step: CloseStep; file: string; action: () => Promise<void> }[],
  ): Promise<void> {
    const results = await Promise.allSettled(steps.map(({ action }) => action()));
    results.forEach((result, index) => {
      const { step, file } = steps[index]!;
      if (result.status === 'rejected') this.record(step, file, result.reason);
    });
  }

  private record(step: CloseStep, file: string, error: unknown): void {
    this.failures.push({ step, file, error: ioError(`close (${step})`, file, error) });
  }

  /**
   * Throws the first failure, if any: a StrataError with its code (`IO_ERROR`, `NO_SPACE`,
   * `INTERNAL`...), the original error as `cause`, `details.step` naming the step, and the later
   * failures in `details.otherFailures`.
   */
  throwIfFailed(): void {
    const [first, ...others] = this.failures;
    if (first === undefined) return;
    const otherFailures: CloseStepFailure[] = others.map(({ step, file, error }) => ({
      step,
      file,
      code: error.code,
      message: error.message,
    }));
    const more = others.length > 0 ? ` (and ${others.length} later step(s) failed too)` : '';
    throw new StrataError(
      first.error.code,
      `closing the store failed at the ${first.step} step: ${first.error.message}${more}`,
      {
        cause: first.error,
        details: {
          ...detailsOf(first.error),
          file: detailsOf(first.error).file ?? first.file,
          step: first.step,
          otherFailures,
        },
      },
    );
  }
}

/**
 * The details of `error`, or those of its cause when it has none: a fail-stop error (a flush that
 * failed in the background) wraps the I/O error that names the file.
 */
function detailsOf(error: StrataError): StrataErrorDetails {
  if (Object.keys(error.details).length > 0 || !isStrataError(error.cause)) return error.details;
  return error.cause.details;
}
