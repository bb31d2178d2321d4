import type { ValueKindCode } from '../entry.js';
import type { Cursor, CursorStatus, Direction, SeekBound } from '../iterators/cursor.js';
import { READY } from '../iterators/cursor.js';
import type { Memtable } from './memtable.js';
import { NIL } from './layout.js';

const EMPTY = Buffer.alloc(0);

/**
 * A cursor over a memtable; it never needs I/O. Inserts shift positions, so after one (the cursor's
 * owner may have awaited in between) it seeks again just past the entry it is on.
 */
export class MemtableCursor implements Cursor {
  done = false;
  key: Buffer = EMPTY;
  seqno = 0;
  kind: ValueKindCode = 0;
  private node = NIL;
  private seenMutations = 0;

  constructor(
    private readonly memtable: Memtable,
    private readonly direction: Direction,
    private readonly bound: SeekBound | undefined,
  ) {}

  value(): Buffer {
    return this.memtable.valueAt(this.node);
  }

  start(): CursorStatus {
    const m = this.memtable;
    const b = this.bound;
    if (this.direction === 'forward') {
      this.node = b ? m.seek(b.key, b.exclusive ? -Infinity : Infinity) : m.first();
    } else {
      this.node = b ? m.previous(m.seek(b.key, b.exclusive ? Infinity : -Infinity)) : m.last();
    }
    return this.load();
  }

  advance(): CursorStatus {
    const m = this.memtable;
    if (this.node === NIL) return this.load();
    if (m.mutations !== this.seenMutations) {
      // Entries are only ever added, so the current one is still there: forward, the first entry
      // after (key, seqno - 0.5) follows it (seqnos are integers); backward, the one before it.
      this.node =
        this.direction === 'forward'
          ? m.seek(this.key, this.seqno - 0.5)
          : m.previous(m.seek(this.key, this.seqno));
      return this.load();
    }
    this.node = this.direction === 'forward' ? m.next(this.node) : m.previous(this.node);
    return this.load();
  }

  resume(): Promise<void> {
    return Promise.resolve();
  }

  private load(): CursorStatus {
    const node = this.node;
    this.seenMutations = this.memtable.mutations;
    if (node === NIL) {
      this.done = true;
      return READY;
    }
    this.key = this.memtable.keyAt(node);
    this.seqno = this.memtable.seqnoAt(node);
    this.kind = this.memtable.kindAt(node);
    return READY;
  }
}
