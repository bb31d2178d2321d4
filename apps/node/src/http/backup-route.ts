import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { checkpointArchive } from '@strata/replication';
import { backupArchive } from '../backup/backup-writer.js';
import type { RouteContext } from './context.js';

/** Where a backup's checkpoint is staged (hard links), inside the data directory. */
export const BACKUP_SCRATCH_DIRECTORY = 'backups.tmp';

/**
 * `GET /v1/backup`: a consistent online backup of this node (leader, follower or standalone) as
 * a tar stream (format: backup/backup-manifest.ts), built on `Store.checkpoint()` through the
 * same checkpoint archive a bootstrapping follower downloads. The checkpoint is made before the
 * answer starts, so a node that cannot make one answers with a typed error; after that a failure
 * cuts the stream, and the reader finds it truncated (no manifest). The checkpoint copy is
 * removed when the stream ends, fails or the client goes away. Needs the bearer token like every
 * other route.
 */
export function registerBackupRoute(app: FastifyInstance, context: RouteContext): void {
  app.get('/v1/backup', async (request, reply) => {
    const controller = new AbortController();
    context.streams.add(controller);
    request.raw.on('close', () => controller.abort());
    const store = context.store;
    const checkpoint = checkpointArchive(store, {
      scratchDirectory: join(store.directory.root, BACKUP_SCRATCH_DIRECTORY),
      signal: controller.signal,
      // The event history too: a restored node answers /v1/events as the source did.
      checkpoint: { log: 'retained' },
    });
    let first: IteratorResult<Buffer>;
    try {
      // Makes the checkpoint: its errors are still an ordinary answer.
      first = await checkpoint.next();
    } catch (error) {
      context.streams.delete(controller);
      throw error;
    }
    const body = backupArchive(resume(first, checkpoint), {
      nodeId: context.options.nodeId,
      signal: controller.signal,
      onManifest: (manifest) =>
        request.log.info(
          {
            seqno: manifest.seqno,
            files: manifest.files.length,
            sizeBytes: manifest.totalSizeBytes,
          },
          'backup streamed',
        ),
    });
    body.on('close', () => {
      context.streams.delete(controller);
      // A client that stopped reading: stop the checkpoint stream too (removes its copy).
      controller.abort();
    });
    return reply
      .header('content-type', 'application/x-tar')
      .header('content-disposition', 'attachment; filename="strata-backup.tar"')
      .send(body);
  });
}

/** `rest` with its already-read first step put back in front. */
async function* resume(
  first: IteratorResult<Buffer>,
  rest: AsyncGenerator<Buffer, void, undefined>,
): AsyncGenerator<Buffer, void, undefined> {
  if (first.done) return;
  try {
    yield first.value;
    yield* rest;
  } finally {
    await rest.return(undefined);
  }
}
