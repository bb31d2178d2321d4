import { expect } from 'chai';
import { mkdir } from 'node:fs/promises';
import { headers } from 'nats';
import type { JetStreamClient } from 'nats';
import { Store } from '@strata/store';
import { rejectionOf } from '@strata/testing';
import { ClusterMeta, ReplicationNode } from '../src/index.js';
import type { ReplicationLogger } from '../src/logger.js';
import { LOG_HEADERS, clusterNames, logMessageId } from '../src/names.js';
import { StreamIndex } from '../src/stream-index.js';
import { scan, useLogStream, waitUntil } from './helpers.js';

const names = clusterNames('si');
const MIB = 1024 * 1024;

/** Publishes `data` on the log subject with the headers a leader puts on a log message. */
async function publishLogMessage(
  js: JetStreamClient,
  data: Uint8Array,
  place: { epoch: number; firstSeqno: number; lastSeqno: number },
): Promise<number> {
  const messageHeaders = headers();
  messageHeaders.set(LOG_HEADERS.lastSeqno, String(place.lastSeqno));
  const ack = await js.publish(names.logSubject, data, {
    msgID: logMessageId(place.epoch, place.firstSeqno),
    headers: messageHeaders,
  });
  return ack.seq;
}

/** A logger that keeps its warnings. */
function recordingLogger(): ReplicationLogger & { warnings: Record<string, unknown>[] } {
  const warnings: Record<string, unknown>[] = [];
  return {
    warnings,
    info: () => undefined,
    warn: (fields, message) => warnings.push({ ...fields, msg: message }),
    error: () => undefined,
  };
}

describe('StreamIndex over a real nats-server: damage and timeouts are reported, not "not found"', function () {
  this.timeout(60_000);
  const stream = useLogStream(names, 'stream-index-');
  let store: Store;

  // A store that makes real records; closed before the fixture removes its directory (an inner
  // describe's hooks run inside the outer one's).
  describe('with records from a store', () => {
    beforeEach(async () => {
      store = await Store.open(`${stream.dir.path}/source`, { sync: 'none' });
      for (let index = 1; index <= 3; index++) await store.put(`k${index}`, `v${index}`);
    });
    afterEach(async () => {
      await store.close();
    });

    /** Publishes the store's records 1..3 as three log messages; returns their stream sequences. */
    async function publishRecords(js: JetStreamClient): Promise<number[]> {
      const sequences: number[] = [];
      for (let seqno = 1; seqno <= 3; seqno++) {
        const record = (await store.readRecord(seqno)) as Buffer;
        sequences.push(
          await publishLogMessage(js, record, { epoch: 1, firstSeqno: seqno, lastSeqno: seqno }),
        );
      }
      return sequences;
    }

    it('a log message of garbage bytes at the tail: tail, locate and message throw CORRUPTION naming its stream sequence', async () => {
      const js = stream.nc.jetstream();
      const index = new StreamIndex(await stream.nc.jetstreamManager(), names, 64 * MIB);
      await publishRecords(js);
      const garbage = Buffer.from('garbage bytes where a record should be');
      const corruptSequence = await publishLogMessage(js, garbage, {
        epoch: 1,
        firstSeqno: 4,
        lastSeqno: 4,
      });
      expect(corruptSequence).to.equal(4);
      for (const lookup of [() => index.tail(), () => index.locate(2), () => index.message(4)]) {
        const error = await rejectionOf(lookup());
        expect(error.code).to.equal('CORRUPTION');
        expect(error.details).to.include({ streamSequence: 4, stream: names.stream });
        expect(error.message).to.match(/stream sequence 4/);
      }
      // The intact messages before it still read.
      expect((await index.message(3))?.place).to.deep.equal({
        streamSequence: 3,
        firstSeqno: 3,
        lastSeqno: 3,
        epoch: 1,
      });
    });

    it('a record with a flipped byte (checksum) in the middle of the stream: CORRUPTION with the offset in the message', async () => {
      const js = stream.nc.jetstream();
      const index = new StreamIndex(await stream.nc.jetstreamManager(), names, 64 * MIB);
      const record = Buffer.from((await store.readRecord(1)) as Buffer);
      record[record.length - 1] = (record[record.length - 1] as number) ^ 0xff;
      expect(
        await publishLogMessage(js, record, { epoch: 1, firstSeqno: 1, lastSeqno: 1 }),
      ).to.equal(1);
      for (let seqno = 2; seqno <= 3; seqno++) {
        const good = (await store.readRecord(seqno)) as Buffer;
        await publishLogMessage(js, good, { epoch: 1, firstSeqno: seqno, lastSeqno: seqno });
      }
      const error = await rejectionOf(index.message(1));
      expect(error.code).to.equal('CORRUPTION');
      expect(error.details).to.include({ streamSequence: 1, offset: 0 });
      expect(error.message).to.match(/checksum/);
      // The tail is intact and found.
      expect((await index.tail()).last).to.include({ streamSequence: 3, lastSeqno: 3 });
    });

    it('a message without a log message id is not a log message: passed over, not an error', async () => {
      const js = stream.nc.jetstream();
      const index = new StreamIndex(await stream.nc.jetstreamManager(), names, 64 * MIB);
      await publishRecords(js);
      await js.publish(names.logSubject, Buffer.from('foreign bytes'));
      expect(await index.message(4)).to.equal(undefined);
      const tail = await index.tail();
      expect(tail.lastStreamSequence).to.equal(4);
      expect(tail.last).to.include({ streamSequence: 3, firstSeqno: 3, lastSeqno: 3 });
      expect(await index.locate(2)).to.deep.include({ kind: 'found' });
    });

    it('a request that times out (server frozen) is retried and then answered', async () => {
      const js = stream.nc.jetstream();
      await publishRecords(js);
      const logger = recordingLogger();
      const index = new StreamIndex(
        await stream.nc.jetstreamManager({ timeout: 500 }),
        names,
        64 * MIB,
        { maxAttempts: 100, logger },
      );
      await stream.server.pause();
      let resumed = false;
      try {
        const tail = index.tail();
        await waitUntil(() => logger.warnings.length > 0);
        stream.server.resume();
        resumed = true;
        const result = await tail;
        expect(result.last).to.include({ streamSequence: 3, lastSeqno: 3 });
        expect(logger.warnings[0]).to.include({ stream: names.stream, attempts: 1 });
      } finally {
        if (!resumed) stream.server.resume();
      }
    });

    it('a request that keeps timing out fails with TIMEOUT after the bounded attempts', async () => {
      const js = stream.nc.jetstream();
      await publishRecords(js);
      const logger = recordingLogger();
      const index = new StreamIndex(
        await stream.nc.jetstreamManager({ timeout: 300 }),
        names,
        64 * MIB,
        { maxAttempts: 2, logger },
      );
      await stream.server.pause();
      try {
        const error = await rejectionOf(index.message(2));
        expect(error.code).to.equal('TIMEOUT');
        expect(error.details).to.include({ stream: names.stream, streamSequence: 2, attempts: 2 });
        expect(logger.warnings).to.have.length(1);
      } finally {
        stream.server.resume();
      }
      // Once the server answers again, so does the index.
      expect((await index.message(2))?.place).to.include({ firstSeqno: 2, lastSeqno: 2 });
    });

    it('a follower node facing a damaged message at the stream tail starts, logs CORRUPTION with its sequence, and follows once the tail is readable', async () => {
      const js = stream.nc.jetstream();
      await publishRecords(js);
      // Another id than the intact record 4 published below gets (JetStream drops duplicate ids).
      await publishLogMessage(js, Buffer.from('garbage, not a record'), {
        epoch: 9,
        firstSeqno: 4,
        lastSeqno: 4,
      });
      const logger = recordingLogger();
      const directory = `${stream.dir.path}/follower`;
      await mkdir(directory, { recursive: true });
      const meta = ClusterMeta.open(`${directory}/meta.sqlite`, { cluster: 'si', nodeId: 'f' });
      const node = await ReplicationNode.start({
        nats: stream.nc,
        cluster: 'si',
        nodeId: 'f',
        url: 'http://f.invalid',
        dataDirectory: directory,
        role: 'follower',
        meta,
        leaseTtlMs: 600,
        logger,
        openStore: () => Store.open(directory, { sync: 'none' }),
      });
      try {
        // Started (not crashed), and the reason it cannot follow yet is logged.
        await waitUntil(() => logger.warnings.some((warning) => warning['code'] === 'CORRUPTION'));
        const warning = logger.warnings.find((entry) => entry['code'] === 'CORRUPTION');
        expect(warning?.['details']).to.include({ streamSequence: 4, stream: names.stream });
        expect(warning?.['msg']).to.match(/cannot follow the stream/);
        expect(node.role).to.equal('follower');
        expect(node.store.lastSeqno).to.equal(0);
        // A leader's next message ends the stream with an intact one: the role loop follows, the
        // follower refuses the damaged message and applies the rest.
        await store.put('k4', 'v4');
        await publishLogMessage(js, (await store.readRecord(4)) as Buffer, {
          epoch: 1,
          firstSeqno: 4,
          lastSeqno: 4,
        });
        await waitUntil(() => node.store.lastSeqno === 4);
        expect(await scan(node.store)).to.deep.equal(await scan(store));
        expect(node.status().follower?.refusedMessages).to.equal(1);
      } finally {
        await node.close();
        meta.close();
      }
    });
  });
});
