// The crash-test writer: opens the store and writes from several concurrent writers until it is
// killed, printing `ack <seqno> <key>` once a write is acknowledged. Every fifth write is a
// three-entry batch. Arguments: a JSON-encoded WriterOptions.
import { Store } from '@strata/store';
import { deterministicValue as valueOf } from '@strata/testing';
import { writerKey } from './oracle.js';
import type { WriterOptions } from './writer-options.js';

const options = JSON.parse(process.argv[2] ?? '{}') as WriterOptions;
const store = await Store.open(options.dataDirectory, {
  sync: options.sync,
  memtableSizeBytes: options.memtableSizeBytes,
  walSegmentSizeBytes: options.walSegmentSizeBytes,
});
process.stdout.write(`ready ${store.lastSeqno}\n`);
const writers = Array.from({ length: options.writers }, async (_, writer) => {
  for (let counter = 0; ; counter++) {
    if (counter % 5 === 4) {
      const keys = ['a', 'b', 'c'].map((member) =>
        writerKey(options.cycle, writer, counter, member),
      );
      const result = await store.batch(
        keys.map((key) => ({ type: 'put' as const, key, value: valueOf(key) })),
      );
      process.stdout.write(
        keys.map((key, index) => `ack ${result.firstSeqno + index} ${key}\n`).join(''),
      );
    } else {
      const key = writerKey(options.cycle, writer, counter);
      const result = await store.put(key, valueOf(key));
      process.stdout.write(`ack ${result.seqno} ${key}\n`);
    }
  }
});
await Promise.all(writers);
