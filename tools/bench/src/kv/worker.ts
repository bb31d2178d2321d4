// One measurement in its own process: `node --import tsx worker.ts <request json>`, or the crash
// writer of W7: `worker.ts --crash-writer <json>` (killed by its parent with SIGKILL).
import { numberParam, runWorker } from '../runner/worker-protocol.js';
import type { WorkerOutput, WorkerRequest } from '../runner/types.js';
import { withTempDirectory } from '../wal/temp-directory.js';
import type { CrashWriterRequest, KvParams } from './workloads.js';
import {
  KV_WORKER_PATH,
  crashWriterMain,
  runFill,
  runGets,
  runPutSingle,
  runPutSync,
  runReopen,
  runScans,
} from './workloads.js';

async function measure(request: WorkerRequest): Promise<WorkerOutput> {
  const { contender, workload, params } = request;
  const kv: KvParams = {
    n: numberParam(params, 'n'),
    batch: numberParam(params, 'batch'),
    seed: numberParam(params, 'seed'),
  };
  return withTempDirectory(`kv-${workload}-${contender}`, async (directory) => {
    switch (workload) {
      case 'fill-seq':
        return runFill(contender, directory, kv, 'sequential');
      case 'fill-random':
        return runFill(contender, directory, kv, 'random');
      case 'put-single':
        return runPutSingle(contender, directory, kv, numberParam(params, 'maxDurationMs'));
      case 'put-sync':
        return runPutSync(contender, directory, {
          writers: numberParam(params, 'writers'),
          ops: numberParam(params, 'ops'),
          warmupOps: numberParam(params, 'warmupOps'),
          maxDurationMs: numberParam(params, 'maxDurationMs'),
          seed: kv.seed,
        });
      case 'gets':
        return runGets(contender, directory, kv);
      case 'scans':
        return runScans(contender, directory, kv);
      case 'reopen':
        return runReopen(contender, directory, kv, KV_WORKER_PATH);
      default:
        throw new Error(`unknown workload ${workload}`);
    }
  });
}

if (process.argv[2] === '--crash-writer') {
  await crashWriterMain(JSON.parse(process.argv[3] ?? '{}') as CrashWriterRequest);
} else {
  await runWorker(measure);
}
