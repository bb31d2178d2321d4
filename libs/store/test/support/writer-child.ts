// Child process of the store's SIGKILL test: concurrent writers with tiny memtables, so that kills
// land during flushes and compactions. Prints `ack <seqno> <key>` for every acknowledged write
// (batches print one line per entry). Values are a function of the key: see valueOf().
import { Store } from '../../src/index.js';
import { valueOf } from './oracle.js';

const [directory, cycle] = process.argv.slice(2);
if (!directory || cycle === undefined) throw new Error('usage: writer-child <directory> <cycle>');
const store = await Store.open(directory, {
  sync: 'always',
  memtableSizeBytes: 16 * 1024,
  walSegmentSizeBytes: 256 * 1024,
});
process.stdout.write(`ready ${store.lastSeqno}\n`);
const writers = Array.from({ length: 6 }, async (_, writer) => {
  for (let counter = 0; ; counter++) {
    const key = `c${cycle}-w${writer}-${counter}`;
    if (counter % 5 === 4) {
      const keys = [`${key}-a`, `${key}-b`, `${key}-c`];
      const result = await store.batch(
        keys.map((batchKey) => ({ type: 'put' as const, key: batchKey, value: valueOf(batchKey) })),
      );
      process.stdout.write(
        keys.map((batchKey, index) => `ack ${result.firstSeqno + index} ${batchKey}\n`).join(''),
      );
    } else {
      const result = await store.put(key, valueOf(key));
      process.stdout.write(`ack ${result.seqno} ${key}\n`);
    }
  }
});
await Promise.all(writers);
