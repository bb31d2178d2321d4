/** A committed record kept in memory for change-feed subscribers. */
export interface RecentRecord {
  readonly firstSeqno: number;
  readonly lastSeqno: number;
  readonly bytes: Buffer;
}

/**
 * The most recent committed records, bounded in bytes, so subscribers at or near the head are
 * served from memory instead of re-reading the log. Older records come from the log.
 */
export class RecentRecords {
  /** Records from `head` on; slots before it are emptied, so their bytes can be collected. */
  private records: (RecentRecord | undefined)[] = [];
  private head = 0;
  private sizeBytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** Adds the next record (seqnos must follow the previous one). */
  push(record: RecentRecord): void {
    this.records.push(record);
    this.sizeBytes += record.bytes.length;
    while (this.sizeBytes > this.maxBytes && this.head < this.records.length - 1) {
      this.sizeBytes -= (this.records[this.head] as RecentRecord).bytes.length;
      // Evicted means unreferenced: a slot left holding its record kept every evicted batch in
      // memory until the array was compacted (121 MiB after a 1M-entry fill, with an 8 MiB bound).
      this.records[this.head] = undefined;
      this.head++;
    }
    // Compact the array now and then instead of shifting on every eviction.
    if (this.head > 1024 && this.head * 2 > this.records.length) {
      this.records = this.records.slice(this.head);
      this.head = 0;
    }
  }

  /** The record holding `seqno`, if still in memory. */
  find(seqno: number): RecentRecord | undefined {
    let low = this.head;
    let high = this.records.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const record = this.records[middle] as RecentRecord;
      if (record.lastSeqno < seqno) low = middle + 1;
      else if (record.firstSeqno > seqno) high = middle - 1;
      else return record;
    }
    return undefined;
  }

  /** Forgets everything (after the log was cut back). */
  clear(): void {
    this.records = [];
    this.head = 0;
    this.sizeBytes = 0;
  }
}
