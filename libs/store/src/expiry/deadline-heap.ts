/** One key's deadline: the put at `seqno` stops being served at `expiresAtMs`. */
export interface Deadline {
  readonly key: Buffer;
  readonly seqno: number;
  readonly expiresAtMs: number;
}

/**
 * A binary heap of deadlines, earliest first (`latestFirst`: latest first, to keep the N
 * earliest of a stream by evicting the latest). Array-backed; push and pop are O(log n).
 */
export class DeadlineHeap {
  private readonly items: Deadline[] = [];

  constructor(private readonly latestFirst = false) {}

  get size(): number {
    return this.items.length;
  }

  /** The first deadline (earliest, or latest with `latestFirst`) without removing it. */
  peek(): Deadline | undefined {
    return this.items[0];
  }

  push(item: Deadline): void {
    const items = this.items;
    items.push(item);
    let at = items.length - 1;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!this.before(items[at]!, items[parent]!)) break;
      [items[at], items[parent]] = [items[parent]!, items[at]!];
      at = parent;
    }
  }

  pop(): Deadline | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      const right = left + 1;
      let first = at;
      if (left < items.length && this.before(items[left]!, items[first]!)) first = left;
      if (right < items.length && this.before(items[right]!, items[first]!)) first = right;
      if (first === at) break;
      [items[at], items[first]] = [items[first]!, items[at]!];
      at = first;
    }
    return top;
  }

  /** Empties the heap, handing back its items in no particular order. */
  drain(): Deadline[] {
    return this.items.splice(0, this.items.length);
  }

  private before(a: Deadline, b: Deadline): boolean {
    return this.latestFirst ? a.expiresAtMs > b.expiresAtMs : a.expiresAtMs < b.expiresAtMs;
  }
}
