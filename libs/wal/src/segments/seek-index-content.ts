// What a seek-index sidecar holds, apart from the code that reads and writes it: a segment
// carries one as its seek hint, and segment-file.ts must not import the sidecar's file code.

/**
 * The seek-index sidecar of a sealed segment (`<first seqno, 20 digits>.idx` next to its `.log`),
 * like Kafka's `.index` files. It lets a reader that starts in the middle of a sealed segment after
 * a restart seek straight to the record it needs instead of verifying the whole segment to find it.
 *
 * It is only a hint: written without fsync when the segment is sealed, never trusted unless its
 * CRC-32C, version, first seqno and size match, and the record it points to is checked at every
 * use. A missing, torn or stale file costs a full scan of the segment, never a wrong answer.
 *
 * Layout, little-endian: magic u32, version u32, crc32c u32 (of every byte but these four), entry
 * count u32; then firstSeqno, sizeBytes, lastSeqno, lastRecordOffset and lastEpoch as f64 (exact for
 * safe integers), lastChain u32, lastChecksum u32; then per entry its seqno and offset as f64.
 */
export interface SeekIndexFile {
  readonly firstSeqno: number;
  /** The segment's size when sealed: a sidecar describes exactly one length of its segment. */
  readonly sizeBytes: number;
  readonly lastSeqno: number;
  readonly lastRecordOffset: number;
  readonly lastChain: number;
  readonly lastChecksum: number;
  readonly lastEpoch: number;
  /** Seek index entries, both ascending: first seqno and start offset of indexed records. */
  readonly indexSeqnos: readonly number[];
  readonly indexOffsets: readonly number[];
}
