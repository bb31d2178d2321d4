import { LeveledStrategy, Tree } from '@strata/engine';
import type { SealedMemtable } from '@strata/engine';
import type { KvContender } from '../contender.js';

/** The store's default memtable size: seal and flush the active memtable at 64 MiB. */
const MEMTABLE_BYTES = 64 * 2 ** 20;
/** Writers wait while this many sealed memtables await their flush (the store's default). */
const MAX_SEALED = 2;
/** Writers wait for compaction from this many level-0 segments (the store's default). */
const LEVEL0_STOP = 36;

/**
 * Strata's engine alone, with its defaults (64 MiB block cache, LeveledStrategy) and no log. It
 * does what the store does so that data really reaches segments: seals the memtable at 64 MiB,
 * flushes sealed memtables in order and registers their segments, then runs compaction steps
 * until the strategy has nothing to do; writers wait when 2 memtables are sealed or level 0 is
 * full. Seqnos are assigned here, one per entry.
 */
export async function openStrataEngine(directory: string): Promise<KvContender> {
  const tree = await Tree.open(directory);
  const strategy = new LeveledStrategy();
  const highestSeqno = tree.getHighestSeqno();
  let seqno = highestSeqno === undefined ? 0 : highestSeqno + 1;
  let sealed = 0;
  let flushChain: Promise<void> = Promise.resolve();
  let compaction: Promise<void> | undefined;
  let failure: Error | undefined;
  let wakeWriters: (() => void)[] = [];
  const wake = (): void => {
    for (const resolve of wakeWriters.splice(0)) resolve();
  };

  const layout = (): string => JSON.stringify(tree.levelSegmentIds());
  const scheduleCompaction = (): void => {
    if (compaction) return;
    compaction = (async () => {
      try {
        for (let step = 0; step < 64; step++) {
          const before = layout();
          await tree.compact(strategy);
          wake();
          if (layout() === before) break;
        }
      } catch (error) {
        failure ??= error instanceof Error ? error : new Error(String(error));
      } finally {
        compaction = undefined;
        wake();
      }
    })();
  };
  const flush = (memtable: SealedMemtable): void => {
    sealed++;
    flushChain = flushChain.then(async () => {
      try {
        const segment = await tree.flushMemtable(memtable.id, memtable.memtable);
        await tree.registerSegments([segment]);
        scheduleCompaction();
      } catch (error) {
        failure ??= error instanceof Error ? error : new Error(String(error));
      } finally {
        sealed--;
        wake();
      }
    });
  };
  const rotateIfFull = async (): Promise<void> => {
    if (tree.activeMemtableSize() >= MEMTABLE_BYTES) {
      const memtable = tree.rotateMemtable();
      if (memtable) flush(memtable);
    }
    while (sealed >= MAX_SEALED || tree.firstLevelSegmentCount() >= LEVEL0_STOP) {
      if (failure !== undefined) break;
      await new Promise<void>((resolve) => wakeWriters.push(resolve));
    }
    if (failure !== undefined) throw failure;
  };
  /** The writes are synchronous: yield a turn per batch so flush and compaction progress. */
  const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  return {
    async writeBatch(keys, values) {
      for (let index = 0; index < keys.length; index++) {
        tree.insert(keys[index] as Buffer, values[index] as Buffer, seqno++);
      }
      await rotateIfFull();
      await yieldTurn();
    },
    async put(key, value) {
      tree.insert(key, value, seqno++);
      if (tree.activeMemtableSize() >= MEMTABLE_BYTES || sealed > 0) await rotateIfFull();
    },
    get: (key) => tree.get(key),
    async scanAll() {
      const iterator = tree.iter();
      let count = 0;
      try {
        for (;;) {
          const chunk = await iterator.nextChunk(1024);
          count += chunk.length;
          if (chunk.length < 1024) return count;
        }
      } finally {
        iterator.close();
      }
    },
    async scanFrom(start, limit) {
      const iterator = tree.range({ gte: start });
      try {
        return (await iterator.nextChunk(limit)).length;
      } finally {
        iterator.close();
      }
    },
    async settle() {
      const memtable = tree.rotateMemtable();
      if (memtable) flush(memtable);
      await flushChain;
      while (compaction) await compaction;
      if (failure !== undefined) throw failure;
    },
    extraMetrics() {
      return {
        segmentMiB: tree.diskSpace() / 2 ** 20,
        segments: tree.segmentCount(),
        level0Segments: tree.firstLevelSegmentCount(),
      };
    },
    async close() {
      wakeWriters = [];
      await flushChain;
      while (compaction) await compaction;
      await tree.close();
    },
  };
}
