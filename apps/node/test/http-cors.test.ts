import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { createTempDirectory } from '@strata/testing';
import { rawRequest, startNodeProcess } from './helpers.js';
import type { NodeProcess } from './helpers.js';

/** The Debian package's browser (tools/provision-test-deps.mjs installs it). */
const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';
const TOKEN = 'cors-test-token';

/** What a page's fetch came back with, or the error it threw. */
interface PageFetch {
  readonly status?: number;
  readonly seqno?: string | null;
  readonly body?: string;
  readonly error?: string;
}

/** Runs in the page: a cross-origin PUT then GET with the token, as an application would. */
async function putAndGet(target: { url: string; token: string }): Promise<PageFetch> {
  try {
    const headers = { authorization: `Bearer ${target.token}` };
    const put = await fetch(`${target.url}/v1/kv/from-page`, {
      method: 'PUT',
      body: 'hi',
      headers,
    });
    if (put.status !== 200) return { status: put.status, body: await put.text() };
    const get = await fetch(`${target.url}/v1/kv/from-page`, { headers });
    return { status: get.status, seqno: get.headers.get('x-seqno'), body: await get.text() };
  } catch (error) {
    return { error: String(error) };
  }
}

describe('strata serve --cors: pages of the allowed origins call the API from a browser', function () {
  this.timeout(300_000);
  let browser: Browser | undefined;
  let pages: Server;
  let pageOrigin = '';
  const nodes: NodeProcess[] = [];
  const directories: { remove(): Promise<void> }[] = [];
  let allowing: NodeProcess;
  let closed: NodeProcess;

  async function node(args: string[]): Promise<NodeProcess> {
    const data = await createTempDirectory('strata-cors-');
    directories.push(data);
    const started = await startNodeProcess(data.path, ['--token', TOKEN, ...args]);
    nodes.push(started);
    return started;
  }

  before(async function () {
    // The application's own origin: a page server on another port.
    pages = createServer((_request, response) => {
      response
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><title>app</title>');
    });
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
    pageOrigin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
    allowing = await node(['--cors', `https://other.example,${pageOrigin}`]);
    closed = await node([]);
  });

  after(async function () {
    await browser?.close();
    await new Promise((resolve) => pages?.close(resolve));
    for (const started of nodes) expect(await started.stop()).to.equal(0);
    for (const directory of directories) await directory.remove();
  });

  it('answers a preflight from an allowed origin without the token, and names what a page may send and read', async function () {
    const preflight = await rawRequest(allowing.port, 'OPTIONS', '/v1/kv/some%2Fkey', undefined, {
      origin: pageOrigin,
      'access-control-request-method': 'PUT',
      'access-control-request-headers': 'authorization, if-match',
    });
    expect(preflight.status).to.equal(204);
    expect(preflight.headers['access-control-allow-origin']).to.equal(pageOrigin);
    expect(String(preflight.headers['access-control-allow-methods']).split(/,\s*/)).to.include(
      'PUT',
    );
    expect(String(preflight.headers['access-control-allow-headers'])).to.include('authorization');
    const get = await rawRequest(allowing.port, 'GET', '/healthz', undefined, {
      origin: pageOrigin,
    });
    expect(get.headers['access-control-allow-origin']).to.equal(pageOrigin);
    expect(String(get.headers['access-control-expose-headers'])).to.include('x-seqno');
  });

  it('gives no CORS header to another origin, or on a node without --cors', async function () {
    const other = await rawRequest(allowing.port, 'GET', '/healthz', undefined, {
      origin: 'https://evil.example',
    });
    expect(other.headers['access-control-allow-origin']).to.equal(undefined);
    const plain = await rawRequest(closed.port, 'GET', '/healthz', undefined, {
      origin: pageOrigin,
    });
    expect(plain.headers['access-control-allow-origin']).to.equal(undefined);
  });

  it('in Chromium: a page of the allowed origin writes and reads; the same page is refused by a node without --cors', async function () {
    if (!existsSync(CHROMIUM)) {
      process.stderr.write(`CORS browser test skipped: no Chromium at ${CHROMIUM}\n`);
      this.skip();
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    const page = await browser.newPage();
    await page.goto(`${pageOrigin}/`);
    const allowed = await page.evaluate(putAndGet, { url: allowing.url, token: TOKEN });
    expect(allowed).to.deep.equal({ status: 200, seqno: '1', body: 'hi' });
    const refused = await page.evaluate(putAndGet, { url: closed.url, token: TOKEN });
    expect(refused.error).to.match(/TypeError: Failed to fetch/);
    // The browser stopped at the preflight: nothing was written on that node.
    const read = await fetch(`${closed.url}/v1/kv/from-page`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(read.status).to.equal(404);
  });
});
