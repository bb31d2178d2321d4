import { expect } from 'chai';
import type { NodeProcess } from './helpers.js';
import { errorOf, parseNdjson, readLines } from './helpers.js';
import { useHttpNode } from './http-fixture.js';

describe('strata serve: GET /v1/events (black box)', function () {
  const http = useHttpNode();
  const { put, batch } = http;
  let node: NodeProcess;
  before(function () {
    node = http.node;
  });

  describe('GET /v1/events', function () {
    it('streams NDJSON in seqno order from..to inclusive, filtered by prefix', async function () {
      const ack = (await (
        await batch({
          ops: [
            { type: 'put', key: 'ev/1', value: 'a' },
            { type: 'put', key: 'other', value: 'b' },
            { type: 'delete', key: 'ev/1' },
          ],
        })
      ).json()) as { firstSeqno: number; lastSeqno: number };
      const response = await fetch(
        `${node.url}/v1/events?from=${ack.firstSeqno}&to=${ack.lastSeqno}`,
      );
      expect(response.status).to.equal(200);
      expect(response.headers.get('content-type')).to.match(/application\/x-ndjson/);
      const lines = parseNdjson(await response.text());
      expect(lines.map((line) => line.seqno)).to.deep.equal([
        ack.firstSeqno,
        ack.firstSeqno + 1,
        ack.lastSeqno,
      ]);
      expect(lines[0]).to.include({ type: 'put', key: 'ev/1', value: 'a', epoch: 1 });
      expect(lines[0]!.timestamp).to.be.a('number');
      expect(lines[2]).to.include({ type: 'delete', key: 'ev/1', value: null });
      const filtered = parseNdjson(
        await (
          await fetch(`${node.url}/v1/events?from=${ack.firstSeqno}&to=${ack.lastSeqno}&prefix=ev/`)
        ).text(),
      );
      expect(filtered.map((line) => line.key)).to.deep.equal(['ev/1', 'ev/1']);
      // A range inside a batch starts and ends exactly where asked.
      const middle = parseNdjson(
        await (
          await fetch(`${node.url}/v1/events?from=${ack.firstSeqno + 1}&to=${ack.firstSeqno + 1}`)
        ).text(),
      );
      expect(middle.map((line) => line.seqno)).to.deep.equal([ack.firstSeqno + 1]);
    });

    it('without follow, ends at the last seqno; from past the end is empty', async function () {
      const status = (await (await fetch(`${node.url}/v1/status`)).json()) as { lastSeqno: number };
      const all = parseNdjson(await (await fetch(`${node.url}/v1/events?from=1`)).text());
      expect(all.length).to.be.at.least(status.lastSeqno);
      all.forEach((line, index) => expect(line.seqno).to.equal(index + 1));
      expect(
        await (await fetch(`${node.url}/v1/events?from=${status.lastSeqno + 5}`)).text(),
      ).to.equal('');
    });

    it('follow=true picks up new writes', async function () {
      const status = (await (await fetch(`${node.url}/v1/status`)).json()) as { lastSeqno: number };
      const response = await fetch(
        `${node.url}/v1/events?from=${status.lastSeqno + 1}&follow=true&prefix=live/`,
      );
      expect(response.status).to.equal(200);
      // The answer's head is flushed once the stream is open: every write below is a new one.
      const reading = readLines(response, 3);
      await put('live/1', 'one');
      await put('not-live', 'skip');
      await batch({
        ops: [
          { type: 'put', key: 'live/2', value: 'two' },
          { type: 'delete', key: 'live/1' },
        ],
      });
      const lines = (await reading) as { key: string; type: string }[];
      expect(lines.map((line) => `${line.type} ${line.key}`)).to.deep.equal([
        'put live/1',
        'put live/2',
        'delete live/1',
      ]);
    });

    it('serves a slow reader at its own pace, complete and in order', async function () {
      const value = 'z'.repeat(2000);
      for (let round = 0; round < 4; round++) {
        const ops = Array.from({ length: 250 }, (_, index) => ({
          type: 'put',
          key: `slow/${round}/${index}`,
          value,
        }));
        expect((await batch({ ops })).status).to.equal(200);
      }
      // The reader stops reading after the first chunk: the server must wait for drain meanwhile,
      // and go on serving others.
      const reader = await pausedStream(node.port, '/v1/events?from=1&prefix=slow/');
      expect((await fetch(`${node.url}/healthz`)).status).to.equal(200);
      const lines = parseNdjson(await reader.readRest());
      expect(lines).to.have.length(1000);
      for (let index = 1; index < lines.length; index++) {
        expect(Number(lines[index]!.seqno)).to.be.above(Number(lines[index - 1]!.seqno));
      }
    });

    it('refuses from=0 and to < from with 400', async function () {
      for (const query of ['from=0', 'from=10&to=3', 'follow=perhaps']) {
        const response = await fetch(`${node.url}/v1/events?${query}`);
        expect(response.status, query).to.equal(400);
        expect((await errorOf(response)).code).to.equal('INVALID_ARGUMENT');
      }
    });
  });
});

/**
 * GET over a raw socket that reads the first chunk of the answer and then nothing until
 * `readRest` is called; resolves once that first chunk arrived.
 */
async function pausedStream(port: number, path: string): Promise<{ readRest(): Promise<string> }> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      res.setEncoding('utf8');
      res.once('data', (first: string) => {
        res.pause();
        const rest = new Promise<string>((done, fail) => {
          let text = first;
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => done(text));
          res.on('error', fail);
        });
        resolve({
          readRest() {
            res.resume();
            return rest;
          },
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}
