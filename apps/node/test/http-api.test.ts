import { expect } from 'chai';
import type { NodeProcess } from './helpers.js';
import { errorOf, rawRequest } from './helpers.js';
import { useHttpNode } from './http-fixture.js';

const MIB = 1024 * 1024;

describe('strata serve: HTTP API (black box)', function () {
  const http = useHttpNode();
  const { put, get, batch } = http;
  let node: NodeProcess;
  before(function () {
    node = http.node;
  });

  describe('PUT, GET, DELETE /v1/kv/:key', function () {
    it('stores any content type as bytes and returns them with x-seqno', async function () {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, index) => index));
      const written = await put('bin', bytes, { 'content-type': 'image/png' });
      expect(written.status).to.equal(200);
      const ack = (await written.json()) as { seqno: number; epoch: number };
      expect(ack.seqno).to.be.a('number').above(0);
      expect(ack.epoch).to.equal(1);
      const read = await get('bin');
      expect(read.status).to.equal(200);
      expect(read.headers.get('x-seqno')).to.equal(String(ack.seqno));
      expect(read.headers.get('content-type')).to.equal('application/octet-stream');
      expect(Buffer.from(await read.arrayBuffer()).equals(bytes)).to.equal(true);
    });

    it('accepts bodies without a content type, and empty values', async function () {
      const response = await rawRequest(node.port, 'PUT', '/v1/kv/plain', Buffer.from('text'));
      expect(response.status).to.equal(200);
      expect(await (await get('plain')).text()).to.equal('text');
      expect((await put('empty', '')).status).to.equal(200);
      const empty = await get('empty');
      expect(empty.status).to.equal(200);
      expect((await empty.arrayBuffer()).byteLength).to.equal(0);
    });

    it('DELETE answers seqno and epoch; the key is then 404 NOT_FOUND', async function () {
      await put('gone', 'x');
      const deleted = await fetch(`${node.url}/v1/kv/gone`, { method: 'DELETE' });
      expect(deleted.status).to.equal(200);
      const ack = (await deleted.json()) as { seqno: number; epoch: number };
      expect(ack).to.have.keys('seqno', 'epoch');
      const read = await get('gone');
      expect(read.status).to.equal(404);
      expect((await errorOf(read)).code).to.equal('NOT_FOUND');
    });

    it('treats /, %2F, .. and any percent-encoded byte as key bytes', async function () {
      await put('a%2Fb', 'slash');
      expect(await (await get('a/b')).text()).to.equal('slash');
      // Sent without URL normalization: "/v1/kv/../status" is the key "../status".
      const dots = await rawRequest(node.port, 'PUT', '/v1/kv/../status', Buffer.from('dots'));
      expect(dots.status).to.equal(200);
      const back = await rawRequest(node.port, 'GET', '/v1/kv/%2E%2E%2Fstatus');
      expect(back.body.toString()).to.equal('dots');
      await put('%FF%00%C3%A9', 'binary key');
      expect(await (await get('%ff%00é')).text()).to.equal('binary key');
      const range = await fetch(
        `${node.url}/v1/kv?prefix=${encodeURIComponent('/w==')}&encoding=base64`,
      );
      expect(range.status).to.equal(200);
      const items = ((await range.json()) as { items: { key: string }[] }).items;
      expect(items.map((item) => item.key)).to.deep.equal([
        Buffer.from([0xff, 0, 0xc3, 0xa9]).toString('base64'),
      ]);
    });

    it('refuses empty keys and malformed escapes with 400 INVALID_ARGUMENT', async function () {
      for (const path of ['/v1/kv/', '/v1/kv/%zz', '/v1/kv/abc%4']) {
        const response = await rawRequest(node.port, 'GET', path);
        expect(response.status, path).to.equal(400);
        const body = JSON.parse(response.body.toString()) as { error: { code: string } };
        expect(body.error.code).to.equal('INVALID_ARGUMENT');
      }
    });

    it('refuses an unknown acks mode with 400 before writing anything', async function () {
      const before = (
        (await (await fetch(`${node.url}/v1/status`)).json()) as { lastSeqno: number }
      ).lastSeqno;
      const answers = [
        await fetch(`${node.url}/v1/kv/acks-bogus?acks=all`, { method: 'PUT', body: 'x' }),
        await fetch(`${node.url}/v1/kv/acks-bogus?acks=`, { method: 'DELETE' }),
        await fetch(`${node.url}/v1/batch?acks=majority`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ops: [{ type: 'put', key: 'acks-bogus', value: 'x' }] }),
        }),
      ];
      for (const answer of answers) {
        expect(answer.status).to.equal(400);
        expect(((await answer.json()) as { error: { code: string } }).error.code).to.equal(
          'INVALID_ARGUMENT',
        );
      }
      expect((await get('acks-bogus')).status).to.equal(404);
      const after = ((await (await fetch(`${node.url}/v1/status`)).json()) as { lastSeqno: number })
        .lastSeqno;
      expect(after).to.equal(before);
    });
  });

  describe('POST /v1/batch', function () {
    it('applies puts and deletes atomically with contiguous seqnos', async function () {
      await put('b/old', 'x');
      const response = await batch({
        ops: [
          { type: 'put', key: 'b/1', value: 'one' },
          { type: 'put', key: 'b/2', value: 'two' },
          { type: 'delete', key: 'b/old' },
        ],
      });
      expect(response.status).to.equal(200);
      const ack = (await response.json()) as {
        firstSeqno: number;
        lastSeqno: number;
        epoch: number;
      };
      expect(ack.lastSeqno - ack.firstSeqno).to.equal(2);
      expect(ack.epoch).to.equal(1);
      expect(await (await get('b/2')).text()).to.equal('two');
      expect((await get('b/2')).headers.get('x-seqno')).to.equal(String(ack.firstSeqno + 1));
      expect((await get('b/old')).status).to.equal(404);
    });

    it('takes base64 keys and values, for the whole body or per op', async function () {
      const key = Buffer.from([0xfe, 0x01]).toString('base64');
      const value = Buffer.from([0, 1, 2, 250]).toString('base64');
      const response = await batch({
        encoding: 'base64',
        ops: [
          { type: 'put', key, value },
          { type: 'put', key: 'plain-op', value: 'text', encoding: 'utf8' },
        ],
      });
      expect(response.status).to.equal(200);
      const read = await get('%FE%01');
      expect(Buffer.from(await read.arrayBuffer())).to.deep.equal(Buffer.from([0, 1, 2, 250]));
      expect(await (await get('plain-op')).text()).to.equal('text');
    });

    const invalid: [string, string | object][] = [
      ['malformed JSON', '{"ops":[{"type":"put",'],
      ['an empty body', ''],
      ['a JSON array', '[1,2]'],
      ['no ops', { ops: [] }],
      ['an unknown op type', { ops: [{ type: 'merge', key: 'k', value: 'v' }] }],
      ['an empty key', { ops: [{ type: 'put', key: '', value: 'v' }] }],
      ['a missing value', { ops: [{ type: 'put', key: 'k' }] }],
      [
        'bad base64',
        { encoding: 'base64', ops: [{ type: 'put', key: 'a2V5', value: 'not base64!' }] },
      ],
      ['a bad encoding', { encoding: 'hex', ops: [{ type: 'delete', key: 'k' }] }],
      [
        '__proto__ poisoning',
        '{"ops":[{"type":"put","key":"k","value":"v"}],"__proto__":{"polluted":true}}',
      ],
      [
        'constructor.prototype poisoning',
        '{"ops":[{"type":"put","key":"k","value":"v","constructor":{"prototype":{"polluted":true}}}]}',
      ],
    ];
    for (const [name, body] of invalid) {
      it(`answers 400 INVALID_ARGUMENT for ${name}`, async function () {
        const response = await batch(body);
        expect(response.status).to.equal(400);
        const error = await errorOf(response);
        expect(error.code).to.equal('INVALID_ARGUMENT');
        expect(error.message).to.be.a('string').and.not.equal('');
        expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
      });
    }

    it('answers 413 VALUE_TOO_LARGE for a value over the limit inside a batch', async function () {
      const response = await batch({
        ops: [{ type: 'put', key: 'big', value: 'x'.repeat(MIB + 1) }],
      });
      expect(response.status).to.equal(413);
      expect((await errorOf(response)).code).to.equal('VALUE_TOO_LARGE');
    });

    it('answers 413 BATCH_TOO_LARGE for a body over --max-batch-bytes', async function () {
      const ops = Array.from({ length: 300 }, (_, index) => ({
        type: 'put',
        key: `huge/${index}`,
        value: 'y'.repeat(8 * 1024),
      }));
      const response = await batch({ ops });
      expect(response.status).to.equal(413);
      const error = (await response.json()) as { error: { code: string; limitBytes: number } };
      expect(error.error).to.include({ code: 'BATCH_TOO_LARGE', limitBytes: 2 * MIB });
      expect((await get('huge/0')).status).to.equal(404);
    });
  });

  describe('DELETE /v1/kv (range deletes)', function () {
    it('deletes a prefix or [start, end) with one seqno, and refuses a range it cannot take', async function () {
      await batch({
        ops: ['rd/a', 'rd/b', 'rd/c', 'rdx'].map((key) => ({ type: 'put', key, value: key })),
      });
      const deleted = await fetch(`${node.url}/v1/kv?start=rd/a&end=rd/c`, { method: 'DELETE' });
      expect(deleted.status).to.equal(200);
      const { seqno } = (await deleted.json()) as { seqno: number };
      expect((await get('rd/a')).status).to.equal(404);
      expect((await get('rd/b')).status).to.equal(404);
      expect(await (await get('rd/c')).text()).to.equal('rd/c');
      expect(await (await get('rd/a', `?at=${seqno - 1}`)).text()).to.equal('rd/a');
      const byPrefix = await fetch(`${node.url}/v1/kv?prefix=rd/`, { method: 'DELETE' });
      expect(((await byPrefix.json()) as { seqno: number }).seqno).to.equal(seqno + 1);
      expect((await get('rd/c')).status).to.equal(404);
      expect(await (await get('rdx')).text()).to.equal('rdx');
      for (const query of [
        '',
        '?start=b',
        '?start=b&end=a',
        '?start=a&end=a',
        '?prefix=a&start=a&end=b',
      ]) {
        const refused = await fetch(`${node.url}/v1/kv${query}`, { method: 'DELETE' });
        expect(refused.status, query).to.equal(400);
        expect((await errorOf(refused)).code).to.equal('INVALID_ARGUMENT');
      }
      const badOp = await batch({ ops: [{ type: 'deleteRange', start: 'a' }] });
      expect(badOp.status).to.equal(400);
    });
  });

  describe('GET /v1/kv (ranges)', function () {
    before(async function () {
      const ops = ['r/a', 'r/b', 'r/c', 'r/d', 'r/e', 's/z'].map((key) => ({
        type: 'put',
        key,
        value: `v-${key}`,
      }));
      expect((await batch({ ops })).status).to.equal(200);
    });

    type Page = { items: { key: string; value: string; seqno: number }[]; cursor: string | null };
    const range = async (query: string): Promise<Page> => {
      const response = await fetch(`${node.url}/v1/kv?${query}`);
      expect(response.status, query).to.equal(200);
      return (await response.json()) as Page;
    };

    it('lists a prefix in key order with values and seqnos', async function () {
      const page = await range('prefix=r/');
      expect(page.items.map((item) => item.key)).to.deep.equal(['r/a', 'r/b', 'r/c', 'r/d', 'r/e']);
      expect(page.items[0]!.value).to.equal('v-r/a');
      expect(page.items[0]!.seqno).to.be.a('number');
      expect(page.cursor).to.equal(null);
    });

    it('lists start (inclusive) to end (exclusive), and in reverse', async function () {
      expect((await range('start=r/b&end=r/d')).items.map((item) => item.key)).to.deep.equal([
        'r/b',
        'r/c',
      ]);
      expect(
        (await range('prefix=r/&reverse=true&limit=2')).items.map((item) => item.key),
      ).to.deep.equal(['r/e', 'r/d']);
    });

    it('pages with an opaque cursor, forwards and backwards, on a pinned seqno', async function () {
      for (const reverse of [false, true]) {
        const keys: string[] = [];
        let page = await range(`prefix=r/&limit=2&reverse=${reverse}`);
        keys.push(...page.items.map((item) => item.key));
        // A write between pages is not seen: the cursor pins the first page's seqno.
        await put('r/bb', 'late');
        while (page.cursor) {
          page = await range(`prefix=r/&limit=2&reverse=${reverse}&cursor=${page.cursor}`);
          keys.push(...page.items.map((item) => item.key));
        }
        await fetch(`${node.url}/v1/kv/r/bb`, { method: 'DELETE' });
        const expected = ['r/a', 'r/b', 'r/c', 'r/d', 'r/e'];
        expect(keys).to.deep.equal(reverse ? expected.reverse() : expected);
      }
    });

    it('reads a range as of a seqno and in base64', async function () {
      const page = await range('prefix=r/&limit=1');
      const seqno = page.items[0]!.seqno;
      expect((await range(`prefix=r/&at=${seqno - 1}`)).items).to.deep.equal([]);
      const encoded = await range(
        `prefix=${encodeURIComponent(Buffer.from('r/').toString('base64'))}&encoding=base64&limit=1`,
      );
      expect(Buffer.from(encoded.items[0]!.key, 'base64').toString()).to.equal('r/a');
      expect(Buffer.from(encoded.items[0]!.value, 'base64').toString()).to.equal('v-r/a');
    });

    it('refuses bad parameters with 400 INVALID_ARGUMENT', async function () {
      for (const query of [
        'cursor=@@',
        'limit=0',
        'limit=100000',
        'reverse=maybe',
        'at=x',
        'encoding=hex',
        'prefix=%2&encoding=base64',
      ]) {
        const response = await fetch(`${node.url}/v1/kv?${query}`);
        expect(response.status, query).to.equal(400);
        expect((await errorOf(response)).code).to.equal('INVALID_ARGUMENT');
      }
    });
  });

  describe('status, health, metrics, unknown routes', function () {
    it('GET /v1/status reports node id, role, seqnos and epoch', async function () {
      const status = (await (await fetch(`${node.url}/v1/status`)).json()) as Record<
        string,
        unknown
      >;
      expect(status).to.include({ role: 'standalone', status: 'open', epoch: 1 });
      expect(status.nodeId).to.be.a('string');
      expect(status.lastSeqno).to.be.a('number').above(0);
      expect(status.durableSeqno).to.equal(status.lastSeqno);
    });

    it('GET /healthz is ok', async function () {
      const response = await fetch(`${node.url}/healthz`);
      expect(response.status).to.equal(200);
      expect(await response.json()).to.deep.equal({ status: 'ok' });
    });

    it('GET /metrics is Prometheus text with request, write, log, level and event-loop metrics', async function () {
      const response = await fetch(`${node.url}/metrics`);
      expect(response.status).to.equal(200);
      expect(response.headers.get('content-type')).to.match(/text\/plain/);
      const text = await response.text();
      for (const name of [
        'strata_build_info{version="',
        'strata_http_requests_total{method="PUT",route="/v1/kv/:key",status="200"}',
        'strata_http_request_duration_seconds_bucket',
        'strata_write_duration_seconds_count{op="batch"}',
        'strata_write_duration_seconds_bucket',
        'strata_wal_write_group_records_bucket',
        'strata_wal_fsync_duration_seconds_bucket',
        'strata_memtable_bytes',
        'strata_level_segments{level="0"}',
        'strata_flush_duration_seconds_count',
        'strata_flush_bytes_total',
        'strata_compaction_output_bytes_total',
        'strata_block_cache_misses_total',
        'strata_changefeed_subscribers',
        'nodejs_eventloop_lag_p99_seconds',
      ]) {
        expect(text, name).to.include(name);
      }
      // The log's metrics follow store.events: the writes above made group commits and fsyncs.
      const groups = /^strata_wal_write_group_records_count (\d+)$/m.exec(text);
      expect(Number(groups?.[1]), 'strata_wal_write_group_records_count').to.be.above(0);
      const fsyncs = /^strata_wal_fsync_duration_seconds_count (\d+)$/m.exec(text);
      expect(Number(fsyncs?.[1]), 'strata_wal_fsync_duration_seconds_count').to.be.above(0);
      // A standalone node has no replication metrics.
      expect(text).not.to.include('strata_replication_');
    });

    it('answers unknown routes with 404 NOT_FOUND JSON', async function () {
      const response = await fetch(`${node.url}/v2/nothing`);
      expect(response.status).to.equal(404);
      expect((await errorOf(response)).code).to.equal('NOT_FOUND');
    });
  });
});
