/**
 * @strata/core: what every Strata package shares. One error class with stable codes, invariant
 * assertions, CRC-32C, varints, and the file-system seam with a real and a simulated implementation.
 *
 * @packageDocumentation
 */
export {
  STRATA_ERROR_CODES,
  StrataError,
  isStrataError,
  isStrataErrorCode,
  corruptionError,
  ioError,
} from './errors.js';
export type { StrataErrorCode, StrataErrorDetails, StrataErrorOptions } from './errors.js';
export { invariant } from './invariant.js';
export { Lifecycle } from './lifecycle.js';
export type { LifecycleStatus } from './lifecycle.js';
export { MAX_KEY_BYTES } from './limits.js';
export { crc32c } from './checksum.js';
export { readVarint, skipVarint, writeVarint, varintBytes } from './varint.js';
export type { VarintCursor, VarintSource } from './varint.js';
export type { FileHandle, FileStat, FileSystem, OpenMode, OpenOptions } from './fs/file-system.js';
export { errnoOf } from './fs/file-system.js';
export { NodeFileSystem, nodeFileSystem } from './fs/node-file-system.js';
export { createFileWith, writeFileAtomically, removeIfPresent } from './fs/atomic-file.js';
export { SimulatedFileSystem } from './fs/simulated-file-system.js';
export type {
  CrashOptions,
  FaultInjector,
  FaultableOperation,
} from './fs/simulated-file-system.js';
export { seededRandom } from './seeded-random.js';
export { settleAll } from './settle-all.js';
