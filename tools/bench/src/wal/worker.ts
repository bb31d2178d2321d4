// One measurement in its own process: `node --import tsx worker.ts <request json>`.
import { numberParam, runWorker } from '../runner/worker-protocol.js';
import type { WorkerOutput, WorkerRequest } from '../runner/types.js';
import { runBulkNone } from './bulk-none.js';
import { openContender } from './contender.js';
import { runDurableAppends } from './durable-appends.js';
import { runReplay } from './replay.js';
import { withTempDirectory } from './temp-directory.js';

async function measure(request: WorkerRequest): Promise<WorkerOutput> {
  const { contender, workload, params } = request;
  return withTempDirectory(`${workload}-${contender}`, async (directory) => {
    switch (workload) {
      case 'durable-appends': {
        const store = await openContender(contender, directory, 'durable');
        try {
          return await runDurableAppends(store, {
            writers: numberParam(params, 'writers'),
            ops: numberParam(params, 'ops'),
            maxDurationMs: numberParam(params, 'maxDurationMs'),
            warmupOps: numberParam(params, 'warmupOps'),
          });
        } finally {
          await store.close();
        }
      }
      case 'bulk-none': {
        const store = await openContender(contender, directory, 'bulk');
        try {
          return await runBulkNone(store, {
            batches: numberParam(params, 'batches'),
            batchEntries: numberParam(params, 'batchEntries'),
            warmupBatches: numberParam(params, 'warmupBatches'),
          });
        } finally {
          await store.close();
        }
      }
      case 'replay':
        if (contender !== 'strata-wal') throw new Error('replay measures strata-wal only');
        return runReplay(directory, {
          entries: numberParam(params, 'entries'),
          batchEntries: numberParam(params, 'batchEntries'),
        });
      default:
        throw new Error(`unknown workload ${workload}`);
    }
  });
}

await runWorker(measure);
