import type { CompactionChoice, CompactionStrategy, CompactionView } from './strategy.js';

/** Options of {@link SizeTieredStrategy}. */
export interface SizeTieredOptions {
  /** Segments a level collects before they are merged into one run below. Default 4. */
  readonly levelTrigger?: number;
  /** Size of output segments; defaults to the tree's target. */
  readonly targetSegmentSizeBytes?: number;
}

/**
 * Size-tiered compaction: a level collects runs until it holds `levelTrigger` segments, then all
 * of them are merged into one new run in the next level (the last level merges into itself). Less
 * write amplification than leveled, more overlap for reads.
 */
export class SizeTieredStrategy implements CompactionStrategy {
  readonly name = 'size-tiered';
  private readonly trigger: number;

  constructor(private readonly options: SizeTieredOptions = {}) {
    this.trigger = Math.max(2, options.levelTrigger ?? 4);
  }

  choose(view: CompactionView): CompactionChoice {
    const target = this.options.targetSegmentSizeBytes ?? view.targetSegmentSizeBytes;
    const last = view.levels.length - 1;
    for (let level = 0; level <= last; level++) {
      const segments = view.levels[level]!;
      if (segments.length < this.trigger) continue;
      if (level === last) {
        // A run of disjoint outputs counts as one; only re-merge when runs really stack up.
        if (segments.length < this.trigger * 2) continue;
      }
      return {
        kind: 'merge',
        inputIds: segments.map((s) => s.id),
        destLevel: Math.min(level + 1, last),
        targetSegmentSizeBytes: target,
      };
    }
    return { kind: 'none' };
  }
}
