import { Store, dataDirectory } from '@strata/store';
import type { BatchOperation } from '@strata/store';
import type { KvContender, SyncMode } from '../contender.js';
import { directoryBytes } from '../disk.js';

/**
 * Strata's store with the defaults a user gets (64 MiB memtable, 64 MiB block cache, leveled
 * compaction, background flush), `sync: 'none'` for the unsynced workloads and `sync: 'always'`
 * (group commit) for durable writes.
 */
export async function openStrataStore(directory: string, mode: SyncMode): Promise<KvContender> {
  const store = await Store.open(directory, { sync: mode === 'durable' ? 'always' : 'none' });
  const layout = dataDirectory(directory);
  return {
    async writeBatch(keys, values) {
      const operations = new Array<BatchOperation>(keys.length);
      for (let index = 0; index < keys.length; index++) {
        operations[index] = {
          type: 'put',
          key: keys[index] as Buffer,
          value: values[index] as Buffer,
        };
      }
      await store.batch(operations);
    },
    async put(key, value) {
      await store.put(key, value);
    },
    get: (key) => store.get(key),
    // Chunked reads, as the LevelDB contender uses nextv and all().
    async scanAll() {
      const iterator = store.range();
      let count = 0;
      try {
        for (;;) {
          const items = await iterator.nextv(1000);
          if (items.length === 0) return count;
          count += items.length;
        }
      } finally {
        iterator.close();
      }
    },
    async scanFrom(start, limit) {
      return (await store.range({ start, limit }).all()).length;
    },
    async settle() {
      await store.flush();
      await store.waitForBackgroundWork();
    },
    extraMetrics() {
      const stats = store.stats();
      return {
        lastSeqno: stats.lastSeqno,
        segmentMiB: stats.diskSpaceBytes / 2 ** 20,
        logMiB: directoryBytes(layout.walDirectory) / 2 ** 20,
        segments: stats.segmentCount,
        level0Segments: stats.firstLevelSegmentCount,
        flushes: stats.background.flushes,
        compactions: stats.background.compactions,
      };
    },
    close: () => store.close(),
  };
}
