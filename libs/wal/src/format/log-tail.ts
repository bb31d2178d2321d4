/**
 * The last record of a log: where the next append continues from. Its own file because recovery
 * finds it, the clean-close marker stores it and the log carries it on, and none of those should
 * import another for a type.
 */
export interface LogTail {
  readonly lastSeqno: number;
  readonly chain: number;
  readonly checksum: number;
  readonly epoch: number;
}
