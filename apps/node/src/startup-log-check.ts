import type { Logger } from 'pino';
import type { LogDamage, Store } from '@strata/store';
import type { RecoveryReport } from '@strata/wal';

/** Where the startup log check of a store is. */
export type LogCheckState = 'running' | 'finished' | 'stopped' | 'failed';

/** The startup log check as `/v1/status` shows it. */
export interface LogCheckStatus {
  /** `finished`: every sealed segment open trusted was read; `failed`: a read failed (see error). */
  readonly state: LogCheckState;
  /** Segments read (known once the check ends). */
  readonly checkedSegmentCount: number | undefined;
  readonly damage: readonly LogDamage[];
  /** Why a `failed` check failed; `null` otherwise. */
  readonly error: { readonly code: string; readonly message: string } | null;
}

/** What opening the log cut, as `/v1/status` shows it (`null`: nothing of that kind). */
export interface RecoveryStatus {
  readonly segmentCount: number;
  readonly verifiedSegmentCount: number;
  readonly cleanClose: boolean;
  readonly tornTail: RecoveryReport['tornTail'] | null;
  readonly pointInTime: RecoveryReport['pointInTime'] | null;
}

/** The check of each store opened by this process (a cluster node may replace its store). */
const checks = new WeakMap<Store, StartupLogCheck>();

/**
 * What the node does about the log right after opening a store: logs a warning for anything
 * recovery cut (a torn tail, a point-in-time cut), then reads, in the background, the sealed
 * segments that open trusted without reading ({@link Store.checkLog}), logging a warning for each
 * damage with file and offset. Without it, a damaged record below the flushed seqno stays
 * unnoticed until a change-feed reader or a checkpoint meets it. The check never blocks the open
 * path: it starts on a later turn of the event loop and reads in bounded async chunks.
 */
export class StartupLogCheck {
  private state: LogCheckState = 'running';
  private checkedSegmentCount: number | undefined;
  private readonly damage: LogDamage[] = [];
  private error: { code: string; message: string } | undefined;
  private readonly controller = new AbortController();
  private readonly done: Promise<void>;

  private constructor(
    private readonly store: Store,
    private readonly logger: Logger,
  ) {
    this.done = this.run();
  }

  /** Logs what recovery cut and starts the background check of `store`'s log. */
  static start(store: Store, logger: Logger): StartupLogCheck {
    logRecoveryFindings(store.logRecovery, logger);
    const check = new StartupLogCheck(store, logger);
    checks.set(store, check);
    return check;
  }

  /** The check started for `store`, if any. */
  static of(store: Store): StartupLogCheck | undefined {
    return checks.get(store);
  }

  /** Where the check is and what it found so far. */
  status(): LogCheckStatus {
    return {
      state: this.state,
      checkedSegmentCount: this.checkedSegmentCount,
      damage: [...this.damage],
      error: this.error ?? null,
    };
  }

  /** Resolves once the check has ended (finished, stopped or failed). */
  whenDone(): Promise<void> {
    return this.done;
  }

  /** Stops the check (before its store closes) and waits for it to end. */
  async stop(): Promise<void> {
    this.controller.abort();
    await this.done;
  }

  private async run(): Promise<void> {
    // Let the open path (and the server's start) go on first.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      if (this.controller.signal.aborted) {
        this.state = 'stopped';
        return;
      }
      const report = await this.store.checkLog({
        signal: this.controller.signal,
        onDamage: (damage) => {
          this.damage.push(damage);
          this.logger.warn(
            { file: damage.file, offset: damage.offset, reason: damage.reason },
            `log damage in ${damage.file} at offset ${damage.offset}: ${damage.reason}`,
          );
        },
      });
      this.checkedSegmentCount = report.checkedSegmentCount;
      this.state = report.stopped ? 'stopped' : 'finished';
      if (!report.stopped) {
        const fields = {
          checkedSegmentCount: report.checkedSegmentCount,
          checkedBytes: report.checkedBytes,
          damaged: report.damage.length,
        };
        if (report.damage.length > 0)
          this.logger.warn(fields, `log check found ${report.damage.length} damaged segment(s)`);
        else this.logger.info(fields, 'log check found no damage');
      }
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      this.error = {
        code: typeof code === 'string' ? code : 'INTERNAL',
        message: error instanceof Error ? error.message : String(error),
      };
      // A store closed under the check (a cluster node replacing it) ends it; anything else failed.
      this.state = this.error.code === 'CLOSED' ? 'stopped' : 'failed';
      if (this.state === 'failed')
        this.logger.error({ err: this.error }, `log check failed: ${this.error.message}`);
    }
  }
}

/** `store`'s recovery findings for `/v1/status`. */
export function recoveryStatus(report: RecoveryReport): RecoveryStatus {
  return {
    segmentCount: report.segmentCount,
    verifiedSegmentCount: report.verifiedSegmentCount,
    cleanClose: report.cleanClose === true,
    tornTail: report.tornTail ?? null,
    pointInTime: report.pointInTime ?? null,
  };
}

/** A warning for each thing recovery cut off the log. */
function logRecoveryFindings(report: RecoveryReport, logger: Logger): void {
  const torn = report.tornTail;
  if (torn !== undefined) {
    logger.warn(
      { tornTail: torn },
      `log recovery cut a torn tail off ${torn.file} at offset ${torn.offset}: ${torn.droppedBytes} bytes dropped (${torn.damage})`,
    );
  }
  const cut = report.pointInTime;
  if (cut !== undefined) {
    logger.warn(
      { pointInTime: cut },
      `point-in-time recovery cut the log at ${cut.file} offset ${cut.offset} (${cut.reason}): seqnos from ${cut.droppedFromSeqno} on, ${cut.droppedBytes} bytes, set aside in ${cut.quarantineDirectory}`,
    );
  }
}
