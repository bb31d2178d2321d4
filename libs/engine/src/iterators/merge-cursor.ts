import type { ValueKindCode } from '../entry.js';
import { compareKeys } from '../util/bytes.js';
import type { Cursor, CursorStatus, Direction } from './cursor.js';
import { NEEDS_IO, READY } from './cursor.js';

const EMPTY = Buffer.alloc(0);

/**
 * Merges cursors of one direction into a single cursor over every version, in (key asc, seqno
 * desc) order forward and the exact reverse backward. A binary heap keeps the next entry on top;
 * equal keys are ordered by seqno, so the newest version of a key comes first going forward.
 */
export class MergeCursor implements Cursor {
  done = false;
  key: Buffer = EMPTY;
  seqno = 0;
  kind: ValueKindCode = 0;
  private heap: Cursor[] = [];
  private pendingChild: Cursor | undefined;
  private startingAt = -1;
  private readonly forward: boolean;

  constructor(
    private readonly children: readonly Cursor[],
    direction: Direction,
  ) {
    this.forward = direction === 'forward';
  }

  value(): Buffer {
    return this.heap[0]!.value();
  }

  start(): CursorStatus {
    for (let i = 0; i < this.children.length; i++) {
      if (this.children[i]!.start() === NEEDS_IO) {
        this.startingAt = i;
        return NEEDS_IO;
      }
    }
    this.buildHeap();
    return READY;
  }

  advance(): CursorStatus {
    const top = this.heap[0]!;
    if (top.advance() === NEEDS_IO) {
      this.pendingChild = top;
      return NEEDS_IO;
    }
    this.fixTop();
    return READY;
  }

  async resume(): Promise<void> {
    if (this.startingAt >= 0) {
      const from = this.startingAt;
      this.startingAt = -1;
      await this.children[from]!.resume();
      // Start the rest one after another: it bounds reads in flight (and open files).
      for (let i = from + 1; i < this.children.length; i++) {
        const child = this.children[i]!;
        if (child.start() === NEEDS_IO) await child.resume();
      }
      this.buildHeap();
      return;
    }
    const child = this.pendingChild!;
    this.pendingChild = undefined;
    await child.resume();
    this.fixTop();
  }

  private buildHeap(): void {
    this.heap = this.children.filter((c) => !c.done);
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
    this.publish();
  }

  private fixTop(): void {
    const heap = this.heap;
    if (heap[0]!.done) {
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        this.siftDown(0);
      }
    } else {
      this.siftDown(0);
    }
    this.publish();
  }

  private publish(): void {
    const top = this.heap[0];
    if (top === undefined) {
      this.done = true;
      return;
    }
    this.key = top.key;
    this.seqno = top.seqno;
    this.kind = top.kind;
  }

  /** True when `a` comes before `b` in this cursor's direction. */
  private before(a: Cursor, b: Cursor): boolean {
    const c = compareKeys(a.key, b.key);
    if (c !== 0) return this.forward ? c < 0 : c > 0;
    return this.forward ? a.seqno > b.seqno : a.seqno < b.seqno;
  }

  private siftDown(index: number): void {
    const heap = this.heap;
    const n = heap.length;
    let i = index;
    const item = heap[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.before(heap[right]!, heap[left]!) ? right : left;
      if (!this.before(heap[child]!, item)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = item;
  }
}
