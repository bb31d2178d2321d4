import { StrataError } from '@strata/core';

interface Waiter {
  readonly seqno: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
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
   * Resolves once `seqno` is applied; rejects with TIMEOUT after `timeoutMs` (if given) or CLOSED
   * when the store closes.
   */
  waitFor(seqno: number, timeoutMs?: number): Promise<void> {
    if (seqno <= this.appliedSeqno) return Promise.resolve();
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { seqno, resolve, reject, timer: undefined };
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          this.remove(waiter);
          reject(
            new StrataError('TIMEOUT', `seqno ${seqno} was not applied within ${timeoutMs} ms`, {
              details: { seqno, appliedSeqno: this.appliedSeqno },
            }),
          );
        }, timeoutMs);
      }
      let index = this.waiters.length;
      while (index > 0 && (this.waiters[index - 1] as Waiter).seqno > seqno) index--;
      this.waiters.splice(index, 0, waiter);
    });
  }

  /** Records that everything up to `seqno` is applied and wakes the satisfied waiters. */
  advance(seqno: number): void {
    if (seqno <= this.appliedSeqno) return;
    this.appliedSeqno = seqno;
    let count = 0;
    while (count < this.waiters.length && (this.waiters[count] as Waiter).seqno <= seqno) count++;
    if (count === 0) return;
    for (const waiter of this.waiters.splice(0, count)) {
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.resolve();
    }
  }

  /** Rejects every waiter with CLOSED, now and later. */
  close(): void {
    this.closedError = new StrataError('CLOSED', 'the store is closed');
    for (const waiter of this.waiters.splice(0)) {
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.reject(this.closedError);
    }
  }

  private remove(waiter: Waiter): void {
    const index = this.waiters.indexOf(waiter);
    if (index >= 0) this.waiters.splice(index, 1);
  }
}
