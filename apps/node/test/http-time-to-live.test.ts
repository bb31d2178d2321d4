import { expect } from 'chai';
import { errorOf } from './helpers.js';
import { useHttpNode } from './http-fixture.js';

/** One line of `GET /v1/events`. */
interface EventLine {
  seqno: number;
  type: string;
  key: string;
  value: string | null;
  expiresAt?: number;
  expired?: boolean;
}

describe('strata serve: per-key time to live (black box)', function () {
  const http = useHttpNode();

  /** Follows `/v1/events` under `prefix` until `count` events arrived (a guard aborts a hang). */
  async function followEvents(prefix: string, count: number): Promise<EventLine[]> {
    const response = await fetch(
      `${http.node.url}/v1/events?from=1&follow=true&prefix=${encodeURIComponent(prefix)}`,
      { signal: AbortSignal.timeout(60_000) },
    );
    expect(response.status).to.equal(200);
    const events: EventLine[] = [];
    const decoder = new TextDecoder();
    let carry = '';
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    while (events.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      carry += decoder.decode(value, { stream: true });
      const lines = carry.split('\n');
      carry = lines.pop() ?? '';
      for (const line of lines) if (line !== '') events.push(JSON.parse(line) as EventLine);
    }
    await reader.cancel();
    return events;
  }

  it('PUT ?ttlMs serves the value with its deadline (X-Expires-At-Ms); a put without it is permanent', async function () {
    const before = Date.now();
    const put = await http.put('ttl%2Fsession', 'token', {});
    expect(put.status).to.equal(200);
    const withTtl = await fetch(`${http.node.url}/v1/kv/ttl%2Fsession?ttlMs=600000`, {
      method: 'PUT',
      body: 'token-2',
    });
    expect(withTtl.status).to.equal(200);
    const after = Date.now();
    const read = await http.get('ttl%2Fsession');
    expect(read.status).to.equal(200);
    expect(await read.text()).to.equal('token-2');
    const deadline = Number(read.headers.get('x-expires-at-ms'));
    expect(deadline).to.be.at.least(before + 600_000);
    expect(deadline).to.be.at.most(after + 600_000);
    await http.put('ttl%2Fsession', 'token-3');
    const permanent = await http.get('ttl%2Fsession');
    expect(await permanent.text()).to.equal('token-3');
    expect(permanent.headers.get('x-expires-at-ms')).to.equal(null);
  });

  it('an expired key answers 404 at once; the leader writes its expiry event (a delete marked expired), seen by /v1/events and history', async function () {
    const put = await fetch(`${http.node.url}/v1/kv/otp%2F1?ttlMs=1`, {
      method: 'PUT',
      body: '123456',
    });
    expect(put.status).to.equal(200);
    const { seqno } = (await put.json()) as { seqno: number };
    expect((await http.get('otp%2F1')).status).to.equal(404);
    const events = await followEvents('otp/', 2);
    expect(
      events.map((event) => [event.seqno, event.type, event.key, event.expired]),
    ).to.deep.equal([
      [seqno, 'put', 'otp/1', undefined],
      [events[1]!.seqno, 'delete', 'otp/1', true],
    ]);
    expect(events[1]!.seqno).to.be.greaterThan(seqno);
    expect(events[0]!.expiresAt).to.be.a('number');
    const history = (await (await fetch(`${http.node.url}/v1/history/otp%2F1`)).json()) as {
      versions: { seqno: number; type: string; value: string | null; expired?: boolean }[];
    };
    expect(history.versions.map((v) => [v.seqno, v.type, v.value, v.expired])).to.deep.equal([
      [events[1]!.seqno, 'delete', null, true],
      [seqno, 'put', null, true],
    ]);
  });

  it('takes ttlMs on batch puts; a bad ttlMs is 400 INVALID_ARGUMENT and writes nothing', async function () {
    const batch = await http.batch({
      ops: [
        { type: 'put', key: 'ttl-batch/a', value: 'short', ttlMs: 1 },
        { type: 'put', key: 'ttl-batch/b', value: 'long', ttlMs: 600_000 },
      ],
    });
    expect(batch.status).to.equal(200);
    expect((await http.get('ttl-batch%2Fa')).status).to.equal(404);
    expect(await (await http.get('ttl-batch%2Fb')).text()).to.equal('long');
    const bad: [string, () => Promise<Response>][] = [
      [
        'query 0',
        () => fetch(`${http.node.url}/v1/kv/ttl-bad?ttlMs=0`, { method: 'PUT', body: 'x' }),
      ],
      [
        'query text',
        () => fetch(`${http.node.url}/v1/kv/ttl-bad?ttlMs=soon`, { method: 'PUT', body: 'x' }),
      ],
      [
        'query beyond 100 years',
        () =>
          fetch(`${http.node.url}/v1/kv/ttl-bad?ttlMs=9999999999999`, { method: 'PUT', body: 'x' }),
      ],
      [
        'batch string',
        () => http.batch({ ops: [{ type: 'put', key: 'ttl-bad', value: 'x', ttlMs: '5' }] }),
      ],
      [
        'batch fraction',
        () => http.batch({ ops: [{ type: 'put', key: 'ttl-bad', value: 'x', ttlMs: 1.5 }] }),
      ],
      [
        'batch negative',
        () => http.batch({ ops: [{ type: 'put', key: 'ttl-bad', value: 'x', ttlMs: -1 }] }),
      ],
    ];
    for (const [what, send] of bad) {
      const response = await send();
      expect(response.status, what).to.equal(400);
      expect((await errorOf(response)).code, what).to.equal('INVALID_ARGUMENT');
    }
    expect((await http.get('ttl-bad')).status).to.equal(404);
    const history = (await (await fetch(`${http.node.url}/v1/history/ttl-bad`)).json()) as {
      versions: unknown[];
    };
    expect(history.versions).to.deep.equal([]);
  });
});
