import type { CompactionChoice, CompactionStrategy, CompactionView } from './strategy.js';

/** Options of {@link FifoStrategy}. */
export interface FifoOptions {
  /** Total size above which the oldest segments are dropped. */
  readonly limitBytes: number;
  /** Segments whose newest data is older than this are dropped. */
  readonly ttlMs?: number;
}

/**
 * FIFO compaction: never merges; drops whole segments, oldest first, once the tree exceeds
 * `limitBytes`, and any segment whose newest data outlived `ttlMs`. For caches and time series
 * where old data may simply expire.
 */
export class FifoStrategy implements CompactionStrategy {
  readonly name = 'fifo';

  constructor(private readonly options: FifoOptions) {}

  choose(view: CompactionView): CompactionChoice {
    const all = view.levels.flat().sort((a, b) => a.maxSeqno - b.maxSeqno || a.id - b.id);
    const drop = new Set<number>();
    if (this.options.ttlMs !== undefined) {
      for (const s of all) {
        if (view.nowMs - s.newestDataAtMs > this.options.ttlMs) drop.add(s.id);
      }
    }
    let total = 0;
    for (const s of all) if (!drop.has(s.id)) total += s.fileSizeBytes;
    for (const s of all) {
      if (total <= this.options.limitBytes) break;
      if (drop.has(s.id)) continue;
      drop.add(s.id);
      total -= s.fileSizeBytes;
    }
    return drop.size === 0 ? { kind: 'none' } : { kind: 'drop', ids: [...drop] };
  }
}
