import { expect } from 'chai';
import { StrataClient, StrataClientError } from '../src/index.js';
import type { WatchEvent } from '../src/index.js';
import { StrataNode } from './strata-nodes.js';

/** The error a promise rejects with (fails the test when it resolves). */
async function failure(promise: Promise<unknown>): Promise<StrataClientError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(StrataClientError);
    return error as StrataClientError;
  }
  throw new Error('expected a StrataClientError, the call succeeded');
}

describe('StrataClient against one standalone node', function () {
  this.timeout(60_000);
  const token = 'client-test-token';
  let node: StrataNode;
  let client: StrataClient;

  before(async function () {
    node = await StrataNode.create({ nodeId: 'solo', extraArgs: ['--token', token] });
    await node.start();
    client = new StrataClient({ nodes: [node.url], token, retry: { deadlineMs: 5_000 } });
  });

  after(async function () {
    await node?.dispose();
  });

  it('puts, gets and deletes keys of any bytes (a slash, a percent sign, a space, binary)', async function () {
    const keys = ['user/1', '100%', 'a b', Buffer.from([0, 255, 47, 46]), '...', 'ключ'];
    for (const [index, key] of keys.entries()) {
      const { seqno } = await client.put(key, `value ${index}`);
      const entry = await client.get(key);
      expect(entry?.value.toString()).to.equal(`value ${index}`);
      expect(entry?.seqno).to.equal(seqno);
    }
    const { seqno } = await client.delete('user/1');
    expect(await client.get('user/1')).to.equal(undefined);
    expect((await client.get('user/1', { at: seqno - 1 }))?.value.toString()).to.match(/^value/);
    expect(client.leader).to.equal(node.url);
  });

  it('conditional writes: ifSeqno and create-only succeed once, then CONFLICT with each failed check', async function () {
    const created = await client.put('doc', 'v1', { ifSeqno: 0 });
    const again = await failure(client.put('doc', 'v1', { ifSeqno: 0 }));
    expect(again).to.include({ code: 'CONFLICT', status: 409 });
    expect(
      again.conflicts.map((c) => [c.key?.toString(), c.expectedSeqno, c.actualSeqno]),
    ).to.deep.equal([['doc', 0, created.seqno]]);
    const updated = await client.put('doc', 'v2', { ifSeqno: created.seqno });
    await client.delete('doc', { ifSeqno: updated.seqno });

    const first = await client.batch(
      [{ type: 'put', key: 'order/1/0001', value: 'created', ifSeqno: 0 }],
      { checks: [{ prefix: 'order/1/', noWritesAfter: updated.seqno }] },
    );
    expect(first.lastSeqno).to.equal(first.firstSeqno);
    const refused = await failure(
      client.batch([{ type: 'put', key: 'order/1/0002', value: 'paid' }], {
        checks: [{ prefix: 'order/1/', noWritesAfter: updated.seqno }],
      }),
    );
    expect(refused.code).to.equal('CONFLICT');
    expect(refused.conflicts.map((c) => [c.prefix?.toString(), c.actualSeqno])).to.deep.equal([
      ['order/1/', first.lastSeqno],
    ]);
  });

  it('batches put, delete and range-delete atomically; deleteRange removes a prefix with one seqno', async function () {
    const batch = await client.batch([
      { type: 'put', key: 'session/a', value: '1' },
      { type: 'put', key: 'session/b', value: '2' },
      { type: 'put', key: 'sessions', value: 'kept' },
      { type: 'delete', key: 'absent' },
    ]);
    expect(batch.lastSeqno - batch.firstSeqno).to.equal(3);
    const removed = await client.deleteRange({ prefix: 'session/' });
    expect(removed.seqno).to.equal(batch.lastSeqno + 1);
    expect(await client.get('session/a')).to.equal(undefined);
    expect((await client.get('sessions'))?.value.toString()).to.equal('kept');
    await client.put('r/a', '1');
    await client.put('r/c', '3');
    await client.deleteRange({ start: 'r/a', end: 'r/c' });
    const left = [];
    for await (const page of client.range({ prefix: 'r/' }))
      left.push(...page.items.map((i) => i.key.toString()));
    expect(left).to.deep.equal(['r/c']);
  });

  it("range pages through every key in order, each page read at the first page's seqno", async function () {
    const keys = Array.from({ length: 25 }, (_, index) => `page/${String(index).padStart(2, '0')}`);
    await client.batch(keys.map((key) => ({ type: 'put', key, value: key.toUpperCase() })));
    const pages = [];
    for await (const page of client.range({ prefix: 'page/', pageSize: 10 })) {
      pages.push(page);
      // Written after the first page: not seen by the later pages.
      if (pages.length === 1) await client.put('page/99', 'late');
    }
    expect(pages.map((page) => page.items.length)).to.deep.equal([10, 10, 5]);
    expect(new Set(pages.map((page) => page.at)).size).to.equal(1);
    expect(pages.flatMap((page) => page.items.map((item) => item.key.toString()))).to.deep.equal(
      keys,
    );
    expect(pages[2]!.cursor).to.equal(null);
    const reversed = [];
    for await (const page of client.range({ prefix: 'page/', reverse: true, pageSize: 7 })) {
      reversed.push(...page.items.map((item) => item.value.toString()));
    }
    expect(reversed).to.deep.equal(['late', ...keys.map((key) => key.toUpperCase()).reverse()]);
  });

  it("history pages a key's versions newest first, with timestamps", async function () {
    const seqnos = [];
    for (const value of ['one', 'two', 'three']) seqnos.push((await client.put('h', value)).seqno);
    seqnos.push((await client.delete('h')).seqno);
    const first = await client.history('h', { limit: 3 });
    expect(first.versions.map((v) => [v.seqno, v.type, v.value?.toString() ?? null])).to.deep.equal(
      [
        [seqnos[3], 'delete', null],
        [seqnos[2], 'put', 'three'],
        [seqnos[1], 'put', 'two'],
      ],
    );
    expect(first.versions[0]!.timestampMs).to.be.a('number');
    const second = await client.history('h', { limit: 3, before: first.cursor! });
    expect(second.versions.map((v) => v.value?.toString())).to.deep.equal(['one']);
    expect(second.cursor).to.equal(null);
  });

  it('watch delivers the log from a seqno under a prefix, in order, and live writes as they happen', async function () {
    const before = await client.put('w/0', 'zero');
    const watch = client.watch({ from: before.seqno, prefix: 'w/' });
    const seen: WatchEvent[] = [];
    const done = (async () => {
      for await (const event of watch) {
        seen.push(event);
        if (event.key.toString() === 'w/end') break;
      }
    })();
    await client.put('other', 'not under the prefix');
    await client.put('w/1', 'one');
    await client.delete('w/0');
    await client.deleteRange({ prefix: 'w/x' });
    await client.put('w/end', 'last');
    await done;
    expect(seen.map((e) => [e.type, e.key.toString(), e.value?.toString() ?? null])).to.deep.equal([
      ['put', 'w/0', 'zero'],
      ['put', 'w/1', 'one'],
      ['delete', 'w/0', null],
      ['delete-range', 'w/x', 'w/y'],
      ['put', 'w/end', 'last'],
    ]);
    const seqnos = seen.map((event) => event.seqno);
    expect(seqnos).to.deep.equal([...seqnos].sort((a, b) => a - b));
    expect(watch.lastSeqno).to.equal(seqnos.at(-1));
    expect(watch.reconnects).to.equal(0);
  });

  it('status reports the node; errors carry the server code and status, and final ones are not retried', async function () {
    const status = await client.status();
    expect(status).to.include({ nodeId: 'solo', role: 'standalone' });
    expect(status.lastSeqno).to.be.at.least(client.lastWrittenSeqno);

    const far = await failure(client.get('doc', { at: status.lastSeqno + 1_000_000 }));
    expect(far).to.include({ code: 'FUTURE_SEQNO', status: 400 });
    expect(far.details.requestedSeqno).to.equal(status.lastSeqno + 1_000_000);

    const started = Date.now();
    const anonymous = new StrataClient({ nodes: [node.url], retry: { deadlineMs: 20_000 } });
    const refused = await failure(anonymous.get('doc'));
    expect(refused).to.include({ code: 'UNAUTHENTICATED', status: 401, node: node.url });
    expect(Date.now() - started, 'a final answer is not retried until the deadline').to.be.below(
      15_000,
    );

    expect((await failure(client.put('..', 'x'))).code).to.equal('INVALID_ARGUMENT');
    expect((await failure(client.get('', {}))).code).to.equal('INVALID_ARGUMENT');
  });

  it('UNAVAILABLE once the deadline passes with no node reachable; ABORTED by a signal', async function () {
    const closed = await StrataNode.create({ nodeId: 'never-started' });
    await closed.dispose();
    const nowhere = new StrataClient({ nodes: [closed.url], retry: { deadlineMs: 400 } });
    const started = Date.now();
    const unreachable = await failure(nowhere.get('k'));
    expect(unreachable.code).to.equal('UNAVAILABLE');
    expect(Date.now() - started).to.be.within(300, 10_000);
    expect((await failure(nowhere.put('k', 'v'))).code).to.equal('UNAVAILABLE');

    const controller = new AbortController();
    const slow = new StrataClient({ nodes: [closed.url], retry: { deadlineMs: 60_000 } });
    const pending = failure(slow.get('k', { signal: controller.signal }));
    controller.abort();
    expect((await pending).code).to.equal('ABORTED');
  });
});
