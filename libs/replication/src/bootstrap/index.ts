/**
 * Checkpoint bootstrap: a follower that is fresh or behind the stream's retained history replaces
 * its data with a checkpoint of the leader, streamed over HTTP as one checksummed archive, then
 * continues from the NATS stream.
 *
 * Leader: {@link checkpointArchive} (served at `GET /v1/internal/checkpoint`). Follower, with its
 * store closed: {@link fetchCheckpoint} then {@link installCheckpoint}; at node start, before
 * `Store.open`: {@link recoverInterruptedBootstrap}.
 *
 * @module
 */
export { checkpointArchive, archiveDirectory } from './archive-writer.js';
export type {
  ArchiveDirectoryOptions,
  ArchiveSeqnos,
  CheckpointArchiveOptions,
} from './archive-writer.js';
export { readCheckpointArchive } from './archive-reader.js';
export type { ArchiveSink, ArchiveSummary, ReadArchiveOptions } from './archive-reader.js';
export {
  ARCHIVE_FORMAT_VERSION,
  ARCHIVE_MAGIC,
  MAX_ARCHIVE_CHUNK_BYTES,
  ArchiveEncoder,
  archivePathProblem,
} from './archive-format.js';
export type { ArchiveEntry, ArchiveHeader } from './archive-format.js';
export { installCheckpoint } from './install-checkpoint.js';
export type { InstallCheckpointOptions, InstalledCheckpoint } from './install-checkpoint.js';
export {
  BOOTSTRAP_MARKER_FILE,
  BOOTSTRAP_STAGING_DIRECTORY,
  recoverInterruptedBootstrap,
} from './bootstrap-swap.js';
export type { BootstrapRecovery } from './bootstrap-swap.js';
export { CHECKPOINT_ROUTE, fetchCheckpoint } from './fetch-checkpoint.js';
export type { FetchCheckpointOptions } from './fetch-checkpoint.js';
