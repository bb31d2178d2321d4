import { expect } from 'chai';
import type { NodeProcess } from './helpers.js';
import { errorOf, rawRequest, rawUpload, stallingRequest } from './helpers.js';
import { useHttpNode } from './http-fixture.js';

const MIB = 1024 * 1024;

describe('strata serve: bad input (black box)', function () {
  const http = useHttpNode();
  const { put, get, batch } = http;
  let node: NodeProcess;
  before(function () {
    node = http.node;
  });

  describe('bad input', function () {
    const kept = new Map<string, string>();

    before(async function () {
      for (let index = 0; index < 20; index++) {
        const key = `keep/${index}`;
        const value = `value-${index}-${'k'.repeat(index * 10)}`;
        expect((await put(key, value)).status).to.equal(200);
        kept.set(key, value);
      }
    });

    it('413 KEY_TOO_LARGE for a key over 64 KiB', async function () {
      const response = await put('k'.repeat(64 * 1024 + 1), 'v');
      expect(response.status).to.equal(413);
      expect((await errorOf(response)).code).to.equal('KEY_TOO_LARGE');
      const inBatch = await batch({ ops: [{ type: 'put', key: 'k'.repeat(70_000), value: 'v' }] });
      expect(inBatch.status).to.equal(413);
      expect((await errorOf(inBatch)).code).to.equal('KEY_TOO_LARGE');
    });

    it('413 VALUE_TOO_LARGE for a value over --max-value-bytes, announced or streamed', async function () {
      const announced = await put('too-big', Buffer.alloc(MIB + 1));
      expect(announced.status).to.equal(413);
      expect((await errorOf(announced)).code).to.equal('VALUE_TOO_LARGE');
      // Chunked, no length: refused while counting. The client holds its body after 4 MiB until
      // the answer is in (so the answer surely comes mid-upload), then sends the other 56 MiB,
      // which the server drains (less than its drain bound) before it closes.
      const streamed = await rawUpload(
        node.port,
        'PUT /v1/kv/too-big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
        { bodyBytes: 60 * MIB, chunked: true, pauseAtBytes: 4 * MIB },
      );
      expect(streamed.status).to.equal(413);
      expect((streamed.body as { error: { code: string } }).error.code).to.equal('VALUE_TOO_LARGE');
      expect(streamed.writtenAtAnswerBytes).to.equal(4 * MIB);
      expect(streamed.writtenBytes).to.equal(60 * MIB);
      expect(streamed.events).to.deep.equal(['answer', 'end']);
      expect((await get('too-big')).status).to.equal(404);
    });

    it('431 HEADERS_TOO_LARGE for a URL over the header limit, every time', async function () {
      for (let attempt = 0; attempt < 20; attempt++) {
        const response = await rawRequest(node.port, 'GET', `/v1/kv/${'x'.repeat(300 * 1024)}`);
        expect(response.status).to.equal(431);
        expect(response.headers.connection).to.equal('close');
        const body = JSON.parse(response.body.toString()) as { error: { code: string } };
        expect(body.error.code).to.equal('HEADERS_TOO_LARGE');
      }
    });

    // stallingRequest fails if the server does not close a stalled request within 15 s; the
    // timeouts here are 1.5 s and 1 s, Node's defaults 300 s and 60 s.
    it('a slow body gets 408 REQUEST_TIMEOUT after the request timeout and the socket is closed', async function () {
      const head = `PUT /v1/kv/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n`;
      const { answer } = await stallingRequest(node.port, head, 'only ten b');
      expect(answer).to.match(/^HTTP\/1.1 408 /);
      expect(answer).to.include('"code":"REQUEST_TIMEOUT"');
      expect((await get('slow')).status).to.equal(404);
    });

    it('slow headers are cut off after the headers timeout with 408 REQUEST_TIMEOUT', async function () {
      const { answer } = await stallingRequest(node.port, 'GET /v1/status HTTP/1.1\r\nHost: x\r\n');
      expect(answer).to.match(/^HTTP\/1.1 408 /);
      expect(answer).to.include('"code":"REQUEST_TIMEOUT"');
    });

    it('afterwards the server is up and every earlier value is intact', async function () {
      expect((await fetch(`${node.url}/healthz`)).status).to.equal(200);
      for (const [key, value] of kept) expect(await (await get(key)).text()).to.equal(value);
    });
  });

  it('refuses query parameters a route does not take, naming them (never ignores a typo)', async function () {
    for (const path of [
      '/v1/events?from=1&limit=-2',
      '/v1/kv/k?ifseqno=1',
      '/v1/kv?prefix=a&limt=5',
      '/v1/status?verbose=1',
      '/v1/history/k?after=3',
    ]) {
      const response = await fetch(`${node.url}${path}`);
      expect(response.status, path).to.equal(400);
      const error = await errorOf(response);
      expect(error.code, path).to.equal('INVALID_ARGUMENT');
      expect(error.message, path).to.match(/unknown query parameter/);
    }
    const put = await fetch(`${node.url}/v1/kv/k?ifSeqno=0&acks=leader&colour=red`, {
      method: 'PUT',
      body: 'v',
    });
    expect(put.status).to.equal(400);
    expect((await errorOf(put)).message).to.include('colour');
    expect((await fetch(`${node.url}/v1/kv/k`)).status).to.equal(404);
  });

  it('answers a known path with another method 405 METHOD_NOT_ALLOWED with Allow, naming no internal path', async function () {
    for (const [method, path, allow] of [
      ['POST', '/v1/kv/some%2Fkey', 'PUT, GET, DELETE'],
      ['PUT', '/v1/batch', 'POST'],
      ['POST', '/v1/kv', 'GET, DELETE'],
      ['DELETE', '/v1/history/k', 'GET'],
    ] as const) {
      const response = await fetch(`${node.url}${path}`, { method });
      expect(response.status, `${method} ${path}`).to.equal(405);
      expect(response.headers.get('allow')).to.equal(allow);
      const error = await errorOf(response);
      expect(error.code).to.equal('METHOD_NOT_ALLOWED');
      expect(error.message).to.not.include('/_');
    }
  });
});
