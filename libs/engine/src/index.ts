/**
 * @strata/engine: the LSM-tree storage engine of Strata (no log; the store feeds it).
 *
 * The surface is what other packages and users call: the {@link Tree} facade with the types of its
 * methods, the compaction strategies, and the offline tools. Everything else is internal; the
 * engine's own tests import it by path. Range deletes are methods of the tree
 * (`Tree.removeRange`, and `Tree.removeRangeFrom` for a log record's bytes) and of a memtable
 * filled by recovery (`Memtable.insertRangeTombstone`): they need no type of their own. A value
 * may carry a deadline (`Tree.insert(key, value, seqno, expiresAtMs)`): from then on reads treat
 * it as a tombstone, judged by `TreeOptions.clock`; `Tree.expiringEntries` lists such values.
 *
 * @example
 * ```ts
 * import { Tree, LeveledStrategy } from '@strata/engine';
 * const tree = await Tree.open('/data/tree');
 * tree.insert(Buffer.from('k'), Buffer.from('v'), 0);
 * tree.removeRange(Buffer.from('a'), Buffer.from('j'), 1); // deletes every key in [a, j)
 * await tree.flushActiveMemtable();
 * await tree.compact(new LeveledStrategy());
 * ```
 *
 * @packageDocumentation
 */
// The facade, and what its methods take and give.
export { Tree } from './tree.js';
export type { TreeOptions, TreeConfig } from './config.js';
export type { InternalEntry, KeyValue, ValueKindCode } from './entry.js';
export { EXPIRY_PREFIX_BYTES, ValueKind } from './entry.js';
// Expiring values (`Tree.insert` with `expiresAtMs`): what `getInternalEntry` callers and
// `Tree.expiringEntries` need.
export type { ExpiringEntry } from './expiring.js';
export { expiresAtMsOf, userValueOf } from './expiring.js';
export type { KeyRange, TreeIterator } from './iterators/tree-iterator.js';
export type { Snapshot } from './read/snapshot.js';
export { Memtable } from './memtable/memtable.js';
export type { SealedMemtable } from './memtable/memtable-set.js';
export type { Segment } from './segment/segment.js';

// Compaction: the strategies a user picks from, and what a strategy of one's own implements.
export type {
  CompactionStrategy,
  CompactionView,
  CompactionChoice,
} from './compaction/strategy.js';
export type { CompactionStepResult } from './compaction/compactor.js';
export { isJobCancelledError } from './compaction/job-cancellation.js';
export { LeveledStrategy } from './compaction/leveled.js';
export { SizeTieredStrategy } from './compaction/tiered.js';
export { FifoStrategy } from './compaction/fifo.js';

// The offline tools the CLI calls: read-only, safe next to a running tree.
export { inspectTree } from './tools/inspect-tree.js';
export type { SegmentInspection, TreeInspection } from './tools/inspect-tree.js';
export { verifySegment, verifyTree } from './tools/verify-tree.js';
export { treeFiles } from './file-names.js';
export type { TreeFiles } from './file-names.js';
export type { VerifyOptions, VerifyReport, VerifySegmentOptions } from './tools/verify-tree.js';
