import { expect } from 'chai';
import type { NodeProcess } from './helpers.js';
import { errorOf } from './helpers.js';
import { useHttpNode } from './http-fixture.js';

interface ConflictBody {
  readonly code: string;
  readonly conflicts: readonly Record<string, unknown>[];
}

describe('strata serve: conditional writes (black box)', function () {
  const http = useHttpNode();
  const { put, get, batch } = http;
  let node: NodeProcess;
  before(function () {
    node = http.node;
  });
  const lastSeqno = async (): Promise<number> =>
    ((await (await fetch(`${node.url}/v1/status`)).json()) as { lastSeqno: number }).lastSeqno;
  const del = (key: string, headers: Record<string, string> = {}, query = '') =>
    fetch(`${node.url}/v1/kv/${key}${query}`, { method: 'DELETE', headers });

  it('GET answers the version as ETag; If-Match with it succeeds, a stale one gets 409 CONFLICT and writes nothing', async function () {
    const created = await put('cw/a', 'one', { 'if-none-match': '*' });
    expect(created.status).to.equal(200);
    const { seqno: v1 } = (await created.json()) as { seqno: number };
    const read = await get('cw/a');
    expect(read.headers.get('etag')).to.equal(`"${v1}"`);
    expect(read.headers.get('x-seqno')).to.equal(String(v1));

    const again = await put('cw/a', 'two', { 'if-none-match': '*' });
    expect(again.status).to.equal(409);
    const body = (await errorOf(again)) as unknown as ConflictBody;
    expect(body.code).to.equal('CONFLICT');
    expect(body.conflicts).to.deep.equal([{ key: 'cw/a', expectedSeqno: 0, actualSeqno: v1 }]);

    const updated = await put('cw/a', 'two', { 'if-match': `"${v1}"` });
    expect(updated.status).to.equal(200);
    const { seqno: v2 } = (await updated.json()) as { seqno: number };
    const before = await lastSeqno();
    const stale = await put('cw/a', 'three', { 'if-match': `"${v1}"` });
    expect(stale.status).to.equal(409);
    expect(((await errorOf(stale)) as unknown as ConflictBody).conflicts).to.deep.equal([
      { key: 'cw/a', expectedSeqno: v1, actualSeqno: v2 },
    ]);
    expect(await lastSeqno()).to.equal(before);
    expect(await (await get('cw/a')).text()).to.equal('two');
  });

  it('?ifSeqno=N on PUT and DELETE; a deleted key is at version 0', async function () {
    const { seqno } = (await (await put('cw/b', 'x')).json()) as { seqno: number };
    expect((await del('cw/b', {}, `?ifSeqno=${seqno + 1}`)).status).to.equal(409);
    expect((await del('cw/b', {}, `?ifSeqno=${seqno}`)).status).to.equal(200);
    expect((await get('cw/b')).status).to.equal(404);
    expect((await put('cw/b', 'y', {})) /* unconditional */.status).to.equal(200);
    const created = await fetch(`${node.url}/v1/kv/cw/c?ifSeqno=0`, { method: 'PUT', body: 'z' });
    expect(created.status).to.equal(200);
  });

  it('refuses preconditions it cannot check with 400 INVALID_ARGUMENT', async function () {
    const before = await lastSeqno();
    for (const [headers, query] of [
      [{ 'if-match': '*' }, ''],
      [{ 'if-match': 'W/"3"' }, ''],
      [{ 'if-match': '"3", "4"' }, ''],
      [{ 'if-none-match': '"3"' }, ''],
      [{ 'if-match': '"3"', 'if-none-match': '*' }, ''],
      [{ 'if-match': '"3"' }, '?ifSeqno=4'],
      [{}, '?ifSeqno=-1'],
      [{}, '?ifSeqno=abc'],
    ] as const) {
      const response = await fetch(`${node.url}/v1/kv/cw/bad${query}`, {
        method: 'PUT',
        body: 'v',
        headers,
      });
      expect(response.status, JSON.stringify(headers) + query).to.equal(400);
      expect((await errorOf(response)).code).to.equal('INVALID_ARGUMENT');
    }
    expect(await lastSeqno()).to.equal(before);
  });

  it('a batch with ifSeqno ops and prefix checks fails whole, listing every failed check', async function () {
    const first = (await (
      await batch({
        ops: [
          { type: 'put', key: 'order/1/0001', value: 'created' },
          { type: 'put', key: 'order/2/0001', value: 'created' },
        ],
      })
    ).json()) as { firstSeqno: number; lastSeqno: number };
    const before = await lastSeqno();
    const refused = await batch({
      ops: [
        { type: 'put', key: 'order/1/0002', value: 'paid', ifSeqno: 0 },
        { type: 'put', key: 'order/2/0001', value: 'changed', ifSeqno: first.firstSeqno },
      ],
      checks: [
        { prefix: 'order/1/', noWritesAfter: first.lastSeqno },
        { prefix: 'order/2/', noWritesAfter: first.firstSeqno },
      ],
    });
    expect(refused.status).to.equal(409);
    expect(((await errorOf(refused)) as unknown as ConflictBody).conflicts).to.deep.equal([
      { key: 'order/2/0001', expectedSeqno: first.firstSeqno, actualSeqno: first.lastSeqno },
      { prefix: 'order/2/', expectedSeqno: first.firstSeqno, actualSeqno: first.lastSeqno },
    ]);
    expect(await lastSeqno()).to.equal(before);
    expect((await get('order/1/0002')).status).to.equal(404);

    const appended = await batch({
      ops: [{ type: 'put', key: 'order/1/0002', value: 'paid', ifSeqno: 0 }],
      checks: [{ prefix: 'order/1/', noWritesAfter: first.lastSeqno }],
    });
    expect(appended.status).to.equal(200);
    const badCheck = await batch({
      ops: [{ type: 'put', key: 'x', value: 'y' }],
      checks: [{ prefix: 'order/', noWritesAfter: -1 }],
    });
    expect(badCheck.status).to.equal(400);
  });

  it('16 concurrent clients incrementing one counter with GET + If-Match lose no increment', async function () {
    const target = Number(process.env.STRATA_COUNTER_INCREMENTS ?? 2000);
    let succeeded = 0;
    let conflicts = 0;
    const client = async (): Promise<void> => {
      while (succeeded < target) {
        const read = await get('cw/counter');
        const tag = read.headers.get('etag');
        const value = read.status === 404 ? 0 : Number(await read.text());
        const written = await put(
          'cw/counter',
          String(value + 1),
          tag === null ? { 'if-none-match': '*' } : { 'if-match': tag },
        );
        if (written.status === 200) succeeded++;
        else {
          expect(written.status).to.equal(409);
          expect((await errorOf(written)).code).to.equal('CONFLICT');
          conflicts++;
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, () => client()));
    expect(Number(await (await get('cw/counter')).text())).to.equal(succeeded);
    expect(succeeded).to.be.at.least(target);
    expect(conflicts).to.be.above(0);
  });
});
