import { join } from 'node:path';
import type { NodeState } from './node-state.js';
import { errorMessage } from '../timing.js';
import { ARCHIVE_PREAMBLE_BYTES } from '../bootstrap/archive-format.js';
import { checkpointArchive } from '../bootstrap/archive-writer.js';

/** Where a served checkpoint is staged, inside the data directory. */
const SCRATCH_DIRECTORY = 'checkpoints.tmp';

/**
 * A checkpoint of the node as an archive stream (what a bootstrapping follower downloads); a
 * completed one is recorded in the metadata as taken, with its seqno and size.
 */
export async function* servedCheckpointArchive(
  node: NodeState,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  let sizeBytes = 0;
  let seqno = 0;
  for await (const chunk of checkpointArchive(node.store, {
    scratchDirectory: join(node.options.dataDirectory, SCRATCH_DIRECTORY),
    ...(signal ? { signal } : {}),
  })) {
    // The header's seqno follows the magic and version (archive-format.ts).
    if (sizeBytes === 0 && chunk.length >= ARCHIVE_PREAMBLE_BYTES + 8)
      seqno = Number(chunk.readBigUInt64LE(ARCHIVE_PREAMBLE_BYTES));
    sizeBytes += chunk.length;
    yield chunk;
  }
  try {
    node.options.meta.recordCheckpoint({ kind: 'taken', seqno, location: 'http', sizeBytes });
  } catch (error) {
    node.logger.warn({ err: errorMessage(error) }, 'could not record the checkpoint');
  }
}
