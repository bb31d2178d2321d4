/**
 * Counts the open snapshots per seqno. Flush and compaction ask it for the oldest one: a version
 * that an open snapshot can see must survive them, any older one below it is garbage.
 *
 * @example
 * ```ts
 * const close = tracker.open(42);
 * tracker.gcWatermark(); // 42
 * close();
 * tracker.gcWatermark(); // Infinity
 * ```
 */
export class SnapshotTracker {
  private readonly openCounts = new Map<number, number>();

  /** Registers a snapshot at `seqno`; returns its release, which only counts its first call. */
  open(seqno: number): () => void {
    this.openCounts.set(seqno, (this.openCounts.get(seqno) ?? 0) + 1);
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      const n = (this.openCounts.get(seqno) ?? 1) - 1;
      if (n === 0) this.openCounts.delete(seqno);
      else this.openCounts.set(seqno, n);
    };
  }

  /** Seqno of the oldest open snapshot, `Infinity` when none is open. */
  gcWatermark(): number {
    let min = Infinity;
    for (const seqno of this.openCounts.keys()) if (seqno < min) min = seqno;
    return min;
  }
}
