/**
 * @strata/engine: the LSM-tree storage engine of Strata (no log; the store feeds it).
 *
 * @example
 * ```ts
 * import { Tree, LeveledStrategy } from '@strata/engine';
 * const tree = await Tree.open('/data/tree');
 * tree.insert(Buffer.from('k'), Buffer.from('v'), 0);
 * await tree.flushActiveMemtable();
 * await tree.compact(new LeveledStrategy());
 * ```
 *
 * @packageDocumentation
 */
export { Tree } from './tree.js';
export type { SealedMemtable } from './memtable/memtable-set.js';
export { Snapshot } from './read/snapshot.js';
export { Memtable } from './memtable/memtable.js';
export { Segment } from './segment/segment.js';
export type { SegmentMetadata } from './segment/metadata.js';
export { TreeIterator } from './iterators/tree-iterator.js';
export type { KeyRange } from './iterators/tree-iterator.js';
export { ValueKind, MAX_SEQNO } from './entry.js';
export type { InternalEntry, KeyValue, ValueKindCode } from './entry.js';
export type { TreeOptions, TreeConfig, CompressionType, PersistedTreeConfig } from './config.js';
export { MAX_KEY_SIZE_BYTES } from './config.js';
export type {
  CompactionStrategy,
  CompactionView,
  CompactionChoice,
} from './compaction/strategy.js';
export { LeveledStrategy } from './compaction/leveled.js';
export type { LeveledOptions } from './compaction/leveled.js';
export { SizeTieredStrategy } from './compaction/tiered.js';
export type { SizeTieredOptions } from './compaction/tiered.js';
export { FifoStrategy } from './compaction/fifo.js';
export type { FifoOptions } from './compaction/fifo.js';
export { MajorCompactionStrategy } from './compaction/major.js';
export { TREE_FORMAT_VERSION } from './recovery.js';
export { inspectTree } from './tools/inspect-tree.js';
export type { ReadOnlyOptions, SegmentInspection, TreeInspection } from './tools/inspect-tree.js';
export { verifyTree } from './tools/verify-tree.js';
export type { SegmentVerification, VerifyOptions, VerifyReport } from './tools/verify-tree.js';
