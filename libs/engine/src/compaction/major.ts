import type { CompactionChoice, CompactionStrategy, CompactionView } from './strategy.js';

/**
 * Major compaction: every segment is merged into the last level, split at the target size. Drops
 * all garbage (overwritten versions, tombstones) not needed by an open snapshot.
 */
export class MajorCompactionStrategy implements CompactionStrategy {
  readonly name = 'major';

  constructor(private readonly targetSegmentSizeBytes?: number) {}

  choose(view: CompactionView): CompactionChoice {
    const all = view.levels.flat();
    if (all.length === 0) return { kind: 'none' };
    return {
      kind: 'merge',
      inputIds: all.map((s) => s.id),
      destLevel: view.levels.length - 1,
      targetSegmentSizeBytes: this.targetSegmentSizeBytes ?? view.targetSegmentSizeBytes,
    };
  }
}
