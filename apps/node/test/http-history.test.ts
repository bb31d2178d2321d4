import { expect } from 'chai';
import type { NodeProcess } from './helpers.js';
import { errorOf } from './helpers.js';
import { useHttpNode } from './http-fixture.js';

describe('strata serve: reading the past, history, read-your-writes (black box)', function () {
  const http = useHttpNode();
  const { put, get } = http;
  let node: NodeProcess;
  before(function () {
    node = http.node;
  });

  describe('history and read-your-writes', function () {
    it('GET ?at=SEQNO reads the value as of that seqno', async function () {
      const first = (await (await put('hist', 'one')).json()) as { seqno: number };
      const second = (await (await put('hist', 'two')).json()) as { seqno: number };
      await fetch(`${node.url}/v1/kv/hist`, { method: 'DELETE' });
      expect(await (await get('hist', `?at=${first.seqno}`)).text()).to.equal('one');
      expect(await (await get('hist', `?at=${second.seqno}`)).text()).to.equal('two');
      expect((await get('hist', `?at=${first.seqno - 1}`)).status).to.equal(404);
      expect((await get('hist')).status).to.equal(404);
      const bad = await get('hist', '?at=-1');
      expect(bad.status).to.equal(400);
      expect((await errorOf(bad)).code).to.equal('INVALID_ARGUMENT');
    });

    it('GET ?at beyond the last applied seqno is 400 FUTURE_SEQNO; with minSeqno it waits, and an accepted at answers the same later', async function () {
      const { seqno } = (await (await put('rep', 'one')).json()) as { seqno: number };
      const ahead = await get('rep', `?at=${seqno + 1}`);
      expect(ahead.status).to.equal(400);
      const error = (await errorOf(ahead)) as { code: string; requestedSeqno?: number };
      expect(error).to.include({ code: 'FUTURE_SEQNO', requestedSeqno: seqno + 1 });
      const rangeAhead = await fetch(`${node.url}/v1/kv?prefix=rep&at=${seqno + 1}`);
      expect(rangeAhead.status).to.equal(400);
      expect((await errorOf(rangeAhead)).code).to.equal('FUTURE_SEQNO');
      // With minSeqno the read waits for its at: the write below lands at seqno + 1.
      const waiting = get('rep', `?at=${seqno + 1}&minSeqno=${seqno}`);
      await put('rep', 'two');
      const waited = await waiting;
      expect(waited.status).to.equal(200);
      expect(await waited.text()).to.equal('two');
      await put('rep', 'three');
      expect(await (await get('rep', `?at=${seqno}`)).text()).to.equal('one');
      expect(await (await get('rep', `?at=${seqno + 1}`)).text()).to.equal('two');
    });

    it('GET /v1/history/:key lists versions newest first with a cursor; a key may end in /history', async function () {
      const v1 = (await (await put('h/doc/history', 'one')).json()) as { seqno: number };
      await fetch(`${node.url}/v1/kv/h/doc/history`, { method: 'DELETE' });
      const v3 = (await (await put('h/doc/history', 'three')).json()) as { seqno: number };
      type Page = {
        key: string;
        versions: { seqno: number; type: string; value: string | null; timestamp: number }[];
        cursor: number | null;
        truncated: boolean;
      };
      const history = async (query: string): Promise<Page> => {
        const response = await fetch(`${node.url}/v1/history/h/doc/history${query}`);
        expect(response.status).to.equal(200);
        return (await response.json()) as Page;
      };
      const all = await history('');
      expect(all.key).to.equal('h/doc/history');
      expect(
        all.versions.map((version) => [version.seqno, version.type, version.value]),
      ).to.deep.equal([
        [v3.seqno, 'put', 'three'],
        [v3.seqno - 1, 'delete', null],
        [v1.seqno, 'put', 'one'],
      ]);
      expect(all.versions.every((version) => typeof version.timestamp === 'number')).to.equal(true);
      expect(all.cursor).to.equal(null);
      const first = await history('?limit=2');
      expect(first.versions.map((version) => version.seqno)).to.deep.equal([
        v3.seqno,
        v3.seqno - 1,
      ]);
      expect(first.cursor).to.equal(v3.seqno - 1);
      const second = await history(`?limit=2&before=${first.cursor}`);
      expect(second.versions.map((version) => version.seqno)).to.deep.equal([v1.seqno]);
      expect(second.cursor).to.equal(null);
      const base64 = await history('?encoding=base64&limit=1');
      expect(base64.versions[0]?.value).to.equal(Buffer.from('three').toString('base64'));
      const ahead = await fetch(`${node.url}/v1/history/h/doc/history?before=${v3.seqno + 100}`);
      expect(ahead.status).to.equal(400);
      expect((await errorOf(ahead)).code).to.equal('FUTURE_SEQNO');
      // The key route is not confused by the suffix: the value is still there.
      expect(await (await get('h/doc/history')).text()).to.equal('three');
    });

    it('?minSeqno waits until that seqno is applied, and 503 TIMEOUT when it is not', async function () {
      const status = (await (await fetch(`${node.url}/v1/status`)).json()) as { lastSeqno: number };
      // The read asks for the second of two writes made after it was sent: answered at once, it
      // would find no value or the first one; waiting, it finds the second at its seqno.
      const waiting = get('ryw', `?minSeqno=${status.lastSeqno + 2}`);
      const first = (await (await put('ryw', 'first')).json()) as { seqno: number };
      const second = (await (await put('ryw', 'arrived')).json()) as { seqno: number };
      expect([first.seqno, second.seqno]).to.deep.equal([
        status.lastSeqno + 1,
        status.lastSeqno + 2,
      ]);
      const read = await waiting;
      expect(read.status).to.equal(200);
      expect(read.headers.get('x-seqno')).to.equal(String(second.seqno));
      expect(await read.text()).to.equal('arrived');
      // timeoutMs is honoured, and capped by --max-wait-ms (1000): the message names the wait.
      const far = status.lastSeqno + 1_000_000;
      const late = await get('ryw', `?minSeqno=${far}&timeoutMs=200`);
      expect(late.status).to.equal(503);
      const timeout = await errorOf(late);
      expect(timeout.code).to.equal('TIMEOUT');
      expect(timeout.message).to.include('within 200 ms');
      const capped = await get('ryw', `?minSeqno=${far}&timeoutMs=60000`);
      expect(capped.status).to.equal(503);
      expect((await errorOf(capped)).message).to.include('within 1000 ms');
    });
  });
});
