import type { CompactionChoice, CompactionStrategy, CompactionView } from './strategy.js';
import { keySpan, overlapping, totalSizeBytes } from './strategy.js';

/** Options of {@link LeveledStrategy}. */
export interface LeveledOptions {
  /** L0 segment count that triggers an L0 -> L1 merge. Default 4. */
  readonly l0Trigger?: number;
  /** Each level may hold `sizeRatio` times the bytes of the one above. Default 10. */
  readonly sizeRatio?: number;
  /** Size of output segments; defaults to the tree's target. */
  readonly targetSegmentSizeBytes?: number;
  /** Byte budget of L1; default 4 x the target segment size. */
  readonly level1SizeBytes?: number;
}

/**
 * Leveled compaction (the default), as in LevelDB/RocksDB: L0 is merged into L1 once it holds
 * `l0Trigger` segments; a deeper level over its byte budget pushes one segment (the oldest) into
 * the next level, merged with the segments it overlaps there, or moved if it overlaps none.
 */
export class LeveledStrategy implements CompactionStrategy {
  readonly name = 'leveled';
  private readonly l0Trigger: number;
  private readonly sizeRatio: number;

  constructor(private readonly options: LeveledOptions = {}) {
    this.l0Trigger = options.l0Trigger ?? 4;
    this.sizeRatio = options.sizeRatio ?? 10;
  }

  choose(view: CompactionView): CompactionChoice {
    const target = this.options.targetSegmentSizeBytes ?? view.targetSegmentSizeBytes;
    const levels = view.levels;
    const l0 = levels[0] ?? [];
    if (l0.length >= this.l0Trigger && levels.length > 1) {
      // All (eligible) L0 segments go at once: they overlap, and leaving an older one behind would
      // let it shadow newer data pushed below it.
      const next = overlapping(levels[1]!, keySpan(l0));
      return {
        kind: 'merge',
        inputIds: [...l0, ...next].map((s) => s.id),
        destLevel: 1,
        targetSegmentSizeBytes: target,
      };
    }
    const base = this.options.level1SizeBytes ?? 4 * target;
    let best = -1;
    let bestScore = 1;
    for (let level = 1; level < levels.length - 1; level++) {
      const budget = base * this.sizeRatio ** (level - 1);
      const score = totalSizeBytes(levels[level]!) / budget;
      if (score > bestScore) {
        bestScore = score;
        best = level;
      }
    }
    if (best < 0) return { kind: 'none' };
    const source = [...levels[best]!].sort((a, b) => a.id - b.id)[0]!;
    const below = overlapping(levels[best + 1]!, { min: source.minKey, max: source.maxKey });
    if (below.length === 0) return { kind: 'move', ids: [source.id], destLevel: best + 1 };
    return {
      kind: 'merge',
      inputIds: [source.id, ...below.map((s) => s.id)],
      destLevel: best + 1,
      targetSegmentSizeBytes: target,
    };
  }
}
