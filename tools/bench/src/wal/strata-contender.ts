import { LogOp, Wal } from '@strata/wal';
import type { LogEntry } from '@strata/wal';
import type { WalContender, WriteMode } from './contender.js';

/** Epoch of every benchmark append. */
const EPOCH = 1;

/**
 * Strata's log with the defaults a user gets: `sync: 'always'` (group commit) for durable
 * writes, `sync: 'none'` for bulk batches.
 *
 * Both methods return `wal.append`'s promise itself, not an `async` wrapper around it, so the
 * figures measure the log and no extra promise hops. (The wrapper once also hit a lost wakeup in
 * the log's group-commit writer; that is fixed, and libs/wal/test/wal.test.ts covers it.)
 */
export async function openStrataContender(
  directory: string,
  mode: WriteMode,
): Promise<WalContender> {
  const wal = await Wal.open(directory, { sync: mode === 'durable' ? 'always' : 'none' });
  return {
    // append admits synchronously, so concurrent writers take seqnos in call order.
    putDurable: (key, value) =>
      wal.append({
        epoch: EPOCH,
        firstSeqno: wal.nextSeqno,
        entries: [{ op: LogOp.Put, key, value }],
      }),
    writeBatch: (keys, values) => {
      const entries: LogEntry[] = new Array<LogEntry>(keys.length);
      for (let index = 0; index < keys.length; index++) {
        entries[index] = {
          op: LogOp.Put,
          key: keys[index] as Buffer,
          value: values[index] as Buffer,
        };
      }
      return wal.append({ epoch: EPOCH, firstSeqno: wal.nextSeqno, entries });
    },
    close: () => wal.close(),
  };
}
