import { expect } from 'chai';
import { appendFile, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTempDirectory, findFreePort } from '@strata/testing';
import { errorOf, runCli, sleep, startNodeProcess } from './helpers.js';
import type { NodeProcess } from './helpers.js';

/** Polls `check` until it holds; fails naming `what` after `timeoutMs` (a bound, not a timing). */
async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(25);
  }
}

/** Start offsets of the framed records of a log segment: `[u32 length][u32 crc32c][payload]`. */
function recordOffsets(segment: Buffer): number[] {
  const offsets: number[] = [];
  for (let offset = 0; offset + 8 <= segment.length; offset += 8 + segment.readUInt32LE(offset))
    offsets.push(offset);
  return offsets;
}

/** The log segment files of a data directory, oldest first (names are zero-padded seqnos). */
async function logSegments(data: string): Promise<string[]> {
  return (await readdir(join(data, 'wal')))
    .filter((name) => name.endsWith('.log'))
    .sort()
    .map((name) => join(data, 'wal', name));
}

interface StatusWithLog {
  recovery: {
    cleanClose: boolean;
    tornTail: { file: string; offset: number; droppedBytes: number; damage: string } | null;
  };
  logCheck: {
    state: string;
    damage: { file: string; offset: number; reason: string }[];
  } | null;
}

async function statusOf(node: NodeProcess): Promise<StatusWithLog> {
  return (await (await fetch(`${node.url}/v1/status`)).json()) as StatusWithLog;
}

describe('strata serve: lifecycle, security, flushes (black box)', function () {
  let data: { path: string; remove(): Promise<void> };

  beforeEach(async function () {
    data = await createTempDirectory('strata-node-life-');
  });

  afterEach(async function () {
    await data.remove();
  });

  it('SIGTERM finishes in-flight work, ends event streams, exits 0; a restart serves the same data', async function () {
    const node = await startNodeProcess(data.path);
    for (let index = 0; index < 50; index++) {
      expect(
        (await fetch(`${node.url}/v1/kv/k${index}`, { method: 'PUT', body: `v${index}` })).status,
      ).to.equal(200);
    }
    const follower = await fetch(`${node.url}/v1/events?from=1&follow=true`);
    const body = follower.text();
    const inFlight = Array.from({ length: 20 }, (_, index) =>
      fetch(`${node.url}/v1/kv/late${index}`, { method: 'PUT', body: 'x' }).then(
        (r) => r.status,
        () => 0,
      ),
    );
    await sleep(5);
    const started = Date.now();
    expect(await node.stop('SIGTERM')).to.equal(0);
    expect(Date.now() - started).to.be.below(10_000);
    expect((await body).split('\n').length).to.be.at.least(50);
    const acknowledged = (await Promise.all(inFlight)).map((status, index) => [status, index]);

    const again = await startNodeProcess(data.path);
    for (let index = 0; index < 50; index++) {
      expect(await (await fetch(`${again.url}/v1/kv/k${index}`)).text()).to.equal(`v${index}`);
    }
    for (const [status, index] of acknowledged) {
      if (status === 200)
        expect((await fetch(`${again.url}/v1/kv/late${index}`)).status).to.equal(200);
    }
    expect(await again.stop('SIGINT')).to.equal(0);
  });

  it('after SIGKILL and a restart, no acknowledged write is lost', async function () {
    const node = await startNodeProcess(data.path);
    const acknowledged: string[] = [];
    let stop = false;
    const writers = Array.from({ length: 8 }, async (_, writer) => {
      for (let index = 0; !stop; index++) {
        const key = `w${writer}-${index}`;
        try {
          const response = await fetch(`${node.url}/v1/kv/${key}`, { method: 'PUT', body: key });
          if (response.status === 200) acknowledged.push(key);
        } catch {
          return;
        }
      }
    });
    await sleep(1500);
    expect(await node.stop('SIGKILL')).to.equal('SIGKILL');
    stop = true;
    await Promise.all(writers);
    expect(acknowledged.length).to.be.above(10);
    const again = await startNodeProcess(data.path);
    for (const key of acknowledged) {
      const response = await fetch(`${again.url}/v1/kv/${key}`);
      expect(response.status, key).to.equal(200);
      expect(await response.text()).to.equal(key);
    }
    expect(await again.stop()).to.equal(0);
  });

  it('a second node on the same data directory fails at once with a clear message', async function () {
    const node = await startNodeProcess(data.path);
    const port = await findFreePort();
    const second = await runCli(['serve', '--data', data.path, '--listen', `127.0.0.1:${port}`]);
    expect(second.code).to.equal(1);
    expect(second.stderr).to.match(/LOCKED: data directory is in use by process \d+/);
    expect(second.ms).to.be.below(10_000);
    expect((await fetch(`${node.url}/healthz`)).status).to.equal(200);
    expect(await node.stop()).to.equal(0);
  });

  it('a bearer token (flag or STRATA_TOKEN) guards every route but /healthz', async function () {
    const node = await startNodeProcess(data.path, [], { STRATA_TOKEN: 's3cret' });
    expect((await fetch(`${node.url}/healthz`)).status).to.equal(200);
    for (const [path, headers] of [
      ['/v1/status', {}],
      ['/metrics', {}],
      ['/v1/kv/a', { authorization: 'Bearer wrong' }],
      ['/v1/events?from=1', { authorization: 'Basic czNjcmV0' }],
    ] as const) {
      const response = await fetch(`${node.url}${path}`, { headers });
      expect(response.status, path).to.equal(401);
      expect(response.headers.get('www-authenticate')).to.equal('Bearer');
      expect((await errorOf(response)).code).to.equal('UNAUTHENTICATED');
    }
    const authorization = { authorization: 'Bearer s3cret' };
    expect(
      (await fetch(`${node.url}/v1/kv/a`, { method: 'PUT', body: '1', headers: authorization }))
        .status,
    ).to.equal(200);
    expect(await (await fetch(`${node.url}/v1/kv/a`, { headers: authorization })).text()).to.equal(
      '1',
    );
    expect(await node.stop()).to.equal(0);
  });

  it('refuses a non-loopback address without a token unless --insecure', async function () {
    const port = await findFreePort();
    const refused = await runCli(['serve', '--data', data.path, '--listen', `0.0.0.0:${port}`]);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.match(/refusing to listen on 0\.0\.0\.0.*--token.*--insecure/);
    const insecure = await startNodeProcess(data.path, [
      '--listen',
      `0.0.0.0:${port}`,
      '--insecure',
    ]);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).to.equal(200);
    expect(await insecure.stop()).to.equal(0);
  });

  it('flushes and compacts in worker threads with a small --memtable-bytes', async function () {
    const node = await startNodeProcess(data.path, ['--memtable-bytes', '64KiB']);
    for (let round = 0; round < 40; round++) {
      const ops = Array.from({ length: 100 }, (_, index) => ({
        type: 'put',
        key: `f/${String(round * 100 + index).padStart(6, '0')}`,
        value: 'v'.repeat(100),
      }));
      const response = await fetch(`${node.url}/v1/batch`, {
        method: 'POST',
        body: JSON.stringify({ ops }),
      });
      expect(response.status).to.equal(200);
    }
    let status: { flushes: number; segmentCount: number } = { flushes: 0, segmentCount: 0 };
    for (let attempt = 0; attempt < 50 && status.flushes === 0; attempt++) {
      status = (await (await fetch(`${node.url}/v1/status`)).json()) as typeof status;
      await sleep(100);
    }
    expect(status.flushes).to.be.above(0);
    expect(status.segmentCount).to.be.above(0);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).to.match(/strata_flush_bytes_total [1-9]/);
    expect(await (await fetch(`${node.url}/v1/kv/f/000000`)).text()).to.equal('v'.repeat(100));
    expect(await node.stop()).to.equal(0);
  });

  it('410 HISTORY_TRUNCATED with the first available seqno when from was dropped', async function () {
    const node = await startNodeProcess(data.path, [
      '--memtable-bytes',
      '64KiB',
      '--log-segment-bytes',
      '64KiB',
      '--log-retention-bytes',
      '1',
    ]);
    for (let round = 0; round < 20; round++) {
      const ops = Array.from({ length: 100 }, (_, index) => ({
        type: 'put',
        key: `t/${round}/${index}`,
        value: 'v'.repeat(200),
      }));
      expect(
        (await fetch(`${node.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ ops }) }))
          .status,
      ).to.equal(200);
    }
    let first = 1;
    for (let attempt = 0; attempt < 50 && first === 1; attempt++) {
      first = (
        (await (await fetch(`${node.url}/v1/status`)).json()) as { firstRetainedSeqno: number }
      ).firstRetainedSeqno;
      await sleep(100);
    }
    expect(first).to.be.above(1);
    // Let pending flushes (which drop log segments) settle.
    for (let previous = 0; previous !== first;) {
      previous = first;
      await sleep(300);
      first = (
        (await (await fetch(`${node.url}/v1/status`)).json()) as { firstRetainedSeqno: number }
      ).firstRetainedSeqno;
    }
    const response = await fetch(`${node.url}/v1/events?from=1`);
    expect(response.status).to.equal(410);
    const error = (await response.json()) as { error: { code: string; firstSeqno: number } };
    expect(error.error.code).to.equal('HISTORY_TRUNCATED');
    // Flushes may drop more of the log meanwhile: the answer names the first seqno at that time.
    expect(error.error.firstSeqno).to.be.at.least(first);
    const available = error.error.firstSeqno;
    const lines = (await (await fetch(`${node.url}/v1/events?from=${available}`)).text())
      .trim()
      .split('\n');
    expect((JSON.parse(lines[0]!) as { seqno: number }).seqno).to.equal(available);
    expect(await node.stop()).to.equal(0);
  });

  it('a damaged record in a sealed log segment below the flushed seqno: serve starts, then warns and shows file and offset in /v1/status', async function () {
    const args = ['--log-segment-bytes', '64KiB', '--memtable-bytes', '64KiB'];
    const first = await startNodeProcess(data.path, args);
    for (let round = 0; round < 20; round++) {
      const ops = Array.from({ length: 100 }, (_, index) => ({
        type: 'put',
        key: `d/${round}/${index}`,
        value: 'v'.repeat(200),
      }));
      const response = await fetch(`${first.url}/v1/batch`, {
        method: 'POST',
        body: JSON.stringify({ ops }),
      });
      expect(response.status).to.equal(200);
    }
    // Small memtables flush as the writes go: four flushes (about 256 KiB of entries) put the
    // second log segment (log bytes 64-128 KiB) below the flushed seqno. A stop does not flush.
    await waitFor(
      async () =>
        ((await (await fetch(`${first.url}/v1/status`)).json()) as { flushes: number }).flushes >=
        4,
      'four flushes',
    );
    expect(await first.stop('SIGTERM')).to.equal(0);
    const segments = await logSegments(data.path);
    expect(segments.length).to.be.greaterThan(3);
    const damaged = segments[1] as string;
    const bytes = await readFile(damaged);
    const recordOffset = recordOffsets(bytes)[2] as number;
    bytes[recordOffset + 8 + 10] = (bytes[recordOffset + 8 + 10] as number) ^ 0xff;
    await writeFile(damaged, bytes);

    const node = await startNodeProcess(data.path, args);
    try {
      // Open did not read the segment (it trusts all but the last): the node is up and serving.
      expect((await fetch(`${node.url}/v1/kv/d/19/99`)).status).to.equal(200);
      const warning = `log damage in ${damaged} at offset ${recordOffset}`;
      await waitFor(() => node.output().includes(warning), 'the damage is logged');
      const line = node
        .output()
        .split('\n')
        .find((text) => text.includes(warning));
      expect(JSON.parse(line as string)).to.include({
        level: 40,
        file: damaged,
        offset: recordOffset,
      });
      let status = await statusOf(node);
      await waitFor(
        async () => (status = await statusOf(node)).logCheck?.state !== 'running',
        'the log check ends',
      );
      expect(status.logCheck?.state).to.equal('finished');
      expect(status.logCheck?.damage.map(({ file, offset }) => ({ file, offset }))).to.deep.equal([
        { file: damaged, offset: recordOffset },
      ]);
      expect(status.logCheck?.damage[0]?.reason).to.match(/checksum/);
      expect(status.recovery.tornTail).to.equal(null);
      expect(await node.stop()).to.equal(0);
    } finally {
      // A failed assertion must not leave the node running (mocha would wait for it).
      await node.stop('SIGKILL');
    }
  });

  it('a torn tail cut at open is logged with file, offset and bytes, and shown in /v1/status', async function () {
    const first = await startNodeProcess(data.path);
    for (let index = 0; index < 20; index++) {
      const response = await fetch(`${first.url}/v1/kv/t${index}`, {
        method: 'PUT',
        body: `v${index}`,
      });
      expect(response.status).to.equal(200);
    }
    expect(await first.stop('SIGKILL')).to.equal('SIGKILL');
    // What a crash in the middle of a write leaves: the first half of a record.
    const [segment] = await logSegments(data.path);
    const bytes = await readFile(segment as string);
    const offsets = recordOffsets(bytes);
    const lastRecord = bytes.subarray(offsets[offsets.length - 1]);
    const torn = lastRecord.subarray(0, Math.floor(lastRecord.length / 2));
    await appendFile(segment as string, torn);

    const node = await startNodeProcess(data.path);
    try {
      const warning = `log recovery cut a torn tail off ${segment} at offset ${bytes.length}: ${torn.length} bytes dropped`;
      await waitFor(() => node.output().includes(warning), 'the cut is logged');
      const status = await statusOf(node);
      expect(status.recovery.tornTail).to.deep.equal({
        file: segment,
        offset: bytes.length,
        droppedBytes: torn.length,
        damage: 'incomplete',
      });
      expect((await readFile(segment as string)).length).to.equal(bytes.length);
      for (let index = 0; index < 20; index++)
        expect(await (await fetch(`${node.url}/v1/kv/t${index}`)).text()).to.equal(`v${index}`);
      expect(await node.stop()).to.equal(0);
    } finally {
      await node.stop('SIGKILL');
    }
  });
});
