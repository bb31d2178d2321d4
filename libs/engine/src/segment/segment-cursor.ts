import type { ValueKindCode } from '../entry.js';
import type { Cursor, CursorStatus, Direction, SeekBound } from '../iterators/cursor.js';
import { NEEDS_IO, READY } from '../iterators/cursor.js';
import type { DecodedBlock } from './block.js';
import type { Segment } from './segment.js';

const EMPTY = Buffer.alloc(0);
const FIRST = 0;
const LAST = 1;
const SEEK = 2;
type Placement = typeof FIRST | typeof LAST | typeof SEEK;

/** How a segment cursor reads blocks. */
export interface SegmentCursorOptions {
  /** Put blocks read into the block cache (false for compaction, which reads everything once). */
  readonly fillCache: boolean;
  /** Upper bound of one read-ahead, in bytes. */
  readonly maxReadAheadBytes: number;
}

/**
 * Block misses a cursor serves with a synchronous single-block read before it switches to
 * asynchronous read-ahead: enough for a short range scan, negligible for a long one.
 */
const SYNC_READS = 2;

/** Windows of at least this many blocks mean a long scan: only then is the next one prefetched. */
const PREFETCH_MIN_BLOCKS = 16;

const defaultOptions: SegmentCursorOptions = { fillCache: true, maxReadAheadBytes: 256 * 1024 };

/**
 * A cursor over one segment, in either direction. Consecutive block misses grow a read-ahead
 * window (one read fetches several blocks), so scans make few, large reads.
 */
export class SegmentCursor implements Cursor {
  done = false;
  key: Buffer = EMPTY;
  seqno = 0;
  kind: ValueKindCode = 0;
  private block: DecodedBlock | undefined;
  private blockNo = -1;
  private position = 0;
  private pending: (() => Promise<void>) | undefined;
  private aheadFirst = 0;
  private ahead: DecodedBlock[] = [];
  private readAheadBlocks = 1;
  /** Blocks read synchronously so far (see {@link SYNC_READS}). */
  private syncReads = 0;
  /** A read of the window after `ahead`, started as soon as `ahead` arrived (scans only). */
  private prefetch: { first: number; count: number; blocks: Promise<DecodedBlock[]> } | undefined;

  constructor(
    private readonly segment: Segment,
    private readonly direction: Direction,
    private readonly bound: SeekBound | undefined,
    private readonly options: SegmentCursorOptions = defaultOptions,
  ) {}

  value(): Buffer {
    return this.block!.valueAt(this.position);
  }

  start(): CursorStatus {
    if (!this.segment.isLoaded()) {
      this.pending = async () => {
        await this.segment.load();
        if (this.seekStart() === NEEDS_IO) await this.resume();
      };
      return NEEDS_IO;
    }
    return this.seekStart();
  }

  advance(): CursorStatus {
    const block = this.block!;
    if (this.direction === 'forward') {
      if (++this.position < block.count) return this.setCurrent();
      return this.enter(this.blockNo + 1, FIRST);
    }
    if (--this.position >= 0) return this.setCurrent();
    return this.enter(this.blockNo - 1, LAST);
  }

  async resume(): Promise<void> {
    const pending = this.pending;
    this.pending = undefined;
    if (pending) await pending();
  }

  private seekStart(): CursorStatus {
    const index = this.segment.index;
    const b = this.bound;
    if (this.direction === 'forward') {
      return b ? this.enter(index.seek(b.key, b.exclusive), SEEK) : this.enter(0, FIRST);
    }
    if (!b) return this.enter(index.count - 1, LAST);
    const blockNo = index.seek(b.key, !b.exclusive);
    return blockNo >= index.count ? this.enter(index.count - 1, LAST) : this.enter(blockNo, SEEK);
  }

  private enter(blockNo: number, how: Placement): CursorStatus {
    if (blockNo < 0 || blockNo >= this.segment.blockCount) {
      this.done = true;
      this.block = undefined;
      return READY;
    }
    const local = this.ahead[blockNo - this.aheadFirst];
    let block = local ?? (this.options.fillCache ? this.segment.cachedBlock(blockNo) : undefined);
    if (block === undefined && this.options.fillCache && this.syncReads < SYNC_READS) {
      // The first blocks a cursor misses are read synchronously (page cache): a short range scan
      // needs a block or two per segment, and a threadpool round trip each, one segment after
      // another, cost far more than the reads. Longer scans go on with read-ahead.
      this.syncReads++;
      block = this.segment.readBlockSync(blockNo);
    }
    if (block !== undefined) return this.place(blockNo, block, how);
    this.pending = async () => {
      const forward = this.direction === 'forward';
      const prefetched = this.prefetch;
      this.prefetch = undefined;
      let first: number;
      let blocks: DecodedBlock[];
      if (
        prefetched !== undefined &&
        blockNo >= prefetched.first &&
        blockNo < prefetched.first + prefetched.count
      ) {
        first = prefetched.first;
        blocks = await prefetched.blocks;
      } else {
        const window = this.readAheadWindow(blockNo, forward);
        first = forward ? blockNo : blockNo - window + 1;
        blocks = await this.segment.readBlocks(first, window, this.options.fillCache);
      }
      this.ahead = blocks;
      this.aheadFirst = first;
      if (blocks.length >= PREFETCH_MIN_BLOCKS)
        this.startPrefetch(forward ? first + blocks.length : first - 1);
      if (this.place(blockNo, blocks[blockNo - first]!, how) === NEEDS_IO) await this.resume();
    };
    return NEEDS_IO;
  }

  /**
   * Once a scan reads several blocks at a time, the next window is read while this one is
   * consumed: otherwise the scan idles on every read (a third of a full scan's time).
   */
  private startPrefetch(blockNo: number): void {
    if (blockNo < 0 || blockNo >= this.segment.blockCount) return;
    const forward = this.direction === 'forward';
    const count = this.readAheadWindow(blockNo, forward);
    const first = forward ? blockNo : blockNo - count + 1;
    const blocks = this.segment.readBlocks(first, count, this.options.fillCache);
    // A failed prefetch is reported when (if) the cursor gets to it.
    blocks.catch(() => undefined);
    this.prefetch = { first, count, blocks };
  }

  private readAheadWindow(blockNo: number, forward: boolean): number {
    const index = this.segment.index;
    const limit = forward ? index.count - blockNo : blockNo + 1;
    let window = Math.min(this.readAheadBlocks, limit);
    let bytes = 0;
    for (let i = 0; i < window; i++) {
      bytes += index.sizeOf(forward ? blockNo + i : blockNo - i);
      if (bytes > this.options.maxReadAheadBytes) {
        window = Math.max(1, i);
        break;
      }
    }
    this.readAheadBlocks = Math.min(this.readAheadBlocks * 2, 1024);
    return window;
  }

  private place(blockNo: number, block: DecodedBlock, how: Placement): CursorStatus {
    this.blockNo = blockNo;
    this.block = block;
    let position: number;
    if (how === FIRST) position = 0;
    else if (how === LAST) position = block.count - 1;
    else {
      const b = this.bound!;
      const forward = this.direction === 'forward';
      const seqno = forward === b.exclusive ? -Infinity : Infinity;
      position = block.lowerBound(b.key, seqno) - (forward ? 0 : 1);
    }
    if (position >= block.count) return this.enter(blockNo + 1, FIRST);
    if (position < 0) return this.enter(blockNo - 1, LAST);
    this.position = position;
    return this.setCurrent();
  }

  private setCurrent(): CursorStatus {
    const block = this.block!;
    const p = this.position;
    this.key = block.keyAt(p);
    this.seqno = block.seqnos[p]!;
    this.kind = block.kinds[p]! as ValueKindCode;
    return READY;
  }
}
