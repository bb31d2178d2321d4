import { StrataError } from '@strata/core';

interface Waiter {
  readonly seqno: number;
  readonly resolve: () => void;
  readonly reject: (error: StrataError) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Lets readers wait until a seqno is applied (`minSeqno` reads, change-feed subscribers at the
 * head). Waiters are kept sorted by seqno so a commit wakes only those it satisfies.
 */
export class CommitNotifier {
  private appliedSeqno: number;
  private waiters: Waiter[] = [];
  private closedError: StrataError | undefined;

  constructor(appliedSeqno: number) {
    this.appliedSeqno = appliedSeqno;
  }

  /** The highest applied seqno. */
  get applied(): number {
    return this.appliedSeqno;
  }

  /**
   * Resolves with true once `seqno` is applied, or with false when `signal` aborts first (the
   * waiter is removed, nothing is left behind). Rejects with TIMEOUT after `timeoutMs` (if given)
   * or CLOSED when the store closes.
   */
  waitFor(
    seqno: number,
    timeoutMs?: number,
    ...signals: (AbortSignal | undefined)[]
  ): Promise<boolean> {
    if (seqno <= this.appliedSeqno) return Promise.resolve(true);
    if (this.closedError) return Promise.reject(this.closedError);
    if (signals.some((signal) => signal?.aborted)) return Promise.resolve(false);
    return new Promise<boolean>((resolve, reject) => {
      const onAbort = (): void => {
        this.remove(waiter);
        settle();
        resolve(false);
      };
      const unlisten = (): void => {
        for (const signal of signals) signal?.removeEventListener('abort', onAbort);
      };
      const settle = (): void => {
        if (waiter.timer) clearTimeout(waiter.timer);
        unlisten();
      };
      const waiter: Waiter = {
        seqno,
        resolve: () => {
          settle();
          resolve(true);
        },
        reject: (error: StrataError) => {
          settle();
          reject(error);
        },
        timer: undefined,
      };
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          this.remove(waiter);
          unlisten();
          reject(
            new StrataError('TIMEOUT', `seqno ${seqno} was not applied within ${timeoutMs} ms`, {
              details: { seqno, appliedSeqno: this.appliedSeqno },
            }),
          );
        }, timeoutMs);
      }
      for (const signal of signals) signal?.addEventListener('abort', onAbort, { once: true });
      let index = this.waiters.length;
      while (index > 0 && (this.waiters[index - 1] as Waiter).seqno > seqno) index--;
      this.waiters.splice(index, 0, waiter);
    });
  }

  /** Waiters still registered (for tests and metrics). */
  get waiterCount(): number {
    return this.waiters.length;
  }

  /** Records that everything up to `seqno` is applied and wakes the satisfied waiters. */
  advance(seqno: number): void {
    if (seqno <= this.appliedSeqno) return;
    this.appliedSeqno = seqno;
    let count = 0;
    while (count < this.waiters.length && (this.waiters[count] as Waiter).seqno <= seqno) count++;
    if (count === 0) return;
    for (const waiter of this.waiters.splice(0, count)) waiter.resolve();
  }

  /** Rejects every waiter with CLOSED, now and later. */
  close(): void {
    this.closedError = new StrataError('CLOSED', 'the store is closed');
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.closedError);
  }

  private remove(waiter: Waiter): void {
    const index = this.waiters.indexOf(waiter);
    if (index >= 0) this.waiters.splice(index, 1);
  }
}
