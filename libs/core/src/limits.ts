/**
 * Limits every layer enforces alike. One definition each, so the log, the engine and the store
 * cannot drift apart on what a key may be.
 */

/**
 * Largest key any layer accepts: 64 KiB (the smallest is the empty key, 0 bytes, an ordinary
 * key that sorts before every other). Keys live whole in memtable nodes, index blocks and log
 * entries, so a key is bounded far below a value; 64 KiB is LevelDB's and RocksDB's practical
 * ceiling too. Options may lower it, never raise it.
 *
 * @example
 * ```ts
 * import { MAX_KEY_BYTES } from '@strata/core';
 * if (key.byteLength > MAX_KEY_BYTES) throw new Error('key too large');
 * ```
 */
export const MAX_KEY_BYTES = 64 * 1024;
