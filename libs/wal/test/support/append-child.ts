// Child process of the SIGKILL test: appends with sync `always` from several concurrent writers
// until killed, printing `ack <firstSeqno> <lastSeqno>` for each append that resolved.
import { Wal } from '../../src/index.js';
import { batchAt } from '../helpers.js';

const directory = process.argv[2];
if (!directory) throw new Error('usage: append-child <directory>');
const wal = await Wal.open(directory, { sync: 'always', segmentSizeBytes: 64 * 1024 });
process.stdout.write(`ready ${wal.nextSeqno}\n`);
let next = wal.nextSeqno;
const writers = Array.from({ length: 8 }, async () => {
  for (;;) {
    const firstSeqno = next;
    const count = 1 + (firstSeqno % 4);
    next += count;
    const result = await wal.append(batchAt(firstSeqno, count, 1, '#'.repeat(firstSeqno % 64)));
    process.stdout.write(`ack ${result.firstSeqno} ${result.lastSeqno}\n`);
  }
});
await Promise.all(writers);
