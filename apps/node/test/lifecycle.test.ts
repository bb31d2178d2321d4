import { expect } from 'chai';
import { createTempDirectory, findFreePort } from '@strata/testing';
import { errorOf, runCli, sleep, startNodeProcess } from './helpers.js';

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
});
