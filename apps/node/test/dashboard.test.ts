import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { createTempDirectory, startNatsServer } from '@strata/testing';
import type { NatsServerHandle } from '@strata/testing';
import {
  ClusterNode,
  postBatch,
  statuses,
  waitForConvergence,
  waitForLeader,
} from './cluster-helpers.js';
import { startNodeProcess } from './helpers.js';
import type { NodeProcess } from './helpers.js';

/**
 * The few DOM types the functions below use. They run in the page (playwright sends their
 * source), not in Node, whose type library has no DOM.
 */
interface ShownElement {
  readonly textContent: string | null;
  readonly dataset: Record<string, string | undefined>;
  readonly hidden: boolean;
  querySelector(selector: string): ShownElement | null;
}
declare const document: {
  querySelector(selector: string): ShownElement | null;
  querySelectorAll(selector: string): ArrayLike<ShownElement>;
};
declare const sessionStorage: { getItem(key: string): string | null };

/** The Debian package's browser (tools/provision-test-deps.mjs installs it). */
const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';
/**
 * Where the screenshot goes: the README's image when `STRATA_UPDATE_SCREENSHOT=1` (run the test
 * with it to refresh docs/images/dashboard.png), else a temp file, so a test run never leaves the
 * committed image modified.
 */
const SCREENSHOT =
  process.env['STRATA_UPDATE_SCREENSHOT'] === '1'
    ? fileURLToPath(new URL('../../../docs/images/dashboard.png', import.meta.url))
    : join(tmpdir(), `strata-dashboard-${process.pid}.png`);
/** How long the page may take to show what the node already has (it polls every second). */
const SHOWN_WITHIN_MS = 60_000;

/** One row of the members table, as the page shows it. */
interface ShownMember {
  readonly node: string;
  readonly role: string;
  readonly epoch: number;
  readonly applied: number;
  readonly durable: number;
  readonly lag: number;
}

/** The members table, read in the page (numbers as shown, thousands separators removed). */
function shownMembers(): ShownMember[] {
  const numberIn = (row: ShownElement, selector: string): number =>
    Number((row.querySelector(selector)?.textContent ?? '').replace(/,/g, ''));
  return Array.from(document.querySelectorAll('#members tbody tr')).map((row) => ({
    node: row.dataset['node'] ?? '',
    role: row.querySelector('.role')?.textContent ?? '',
    epoch: numberIn(row, '.epoch'),
    applied: numberIn(row, '.applied'),
    durable: numberIn(row, '.durable'),
    lag: numberIn(row, '.lag'),
  }));
}

describe('dashboard: /ui in headless Chromium', function () {
  this.timeout(300_000);

  let browser: Browser | undefined;
  /** Errors the page met: a script error, a request the CSP refused, an answer >= 400. */
  let pageErrors: string[] = [];

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      process.stderr.write(
        `dashboard tests skipped: no Chromium at ${CHROMIUM} (node tools/provision-test-deps.mjs installs Debian's chromium; CHROMIUM=path overrides)\n`,
      );
      this.skip();
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  });

  after(async function () {
    await browser?.close();
  });

  /** A new page that records its errors. */
  async function openPage(): Promise<Page> {
    const page = await browser!.newPage({ viewport: { width: 1280, height: 1000 } });
    // The functions this file runs in the page are compiled by tsx, which wraps named inner
    // functions in esbuild's `__name(fn, name)`; the page has no such helper, so it gets one
    // that returns the function as it is.
    await page.addInitScript('globalThis.__name = (target) => target;');
    pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      // A failed request is recorded with its address below.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
        pageErrors.push(`console: ${message.text()}`);
      }
    });
    page.on('response', (response) => {
      if (response.status() >= 400) pageErrors.push(`${response.status()} ${response.url()}`);
    });
    return page;
  }

  describe('against a 3-node cluster', function () {
    let nats: NatsServerHandle | undefined;
    let nodes: ClusterNode[] = [];
    let page: Page | undefined;

    afterEach(async function () {
      if (this.currentTest?.state === 'failed') {
        for (const node of nodes) process.stderr.write(`${node.output()}\n`);
      }
      await page?.close();
      await Promise.all(nodes.map((node) => node.dispose().catch(() => undefined)));
      nodes = [];
      await nats?.stop().catch(() => undefined);
    });

    it('shows the members with their roles, seqnos that follow writes, the storage and the events', async function () {
      nats = await startNatsServer();
      for (const nodeId of ['n1', 'n2', 'n3']) {
        nodes.push(
          await ClusterNode.create({
            natsUrl: nats.url,
            cluster: `dashboard${process.pid}`,
            nodeId,
            // Small enough that the writes below flush and roll log segments: the page has
            // levels and segments to show.
            extraArgs: ['--memtable-bytes', '16KiB', '--log-segment-bytes', '64KiB'],
          }),
        );
      }
      await Promise.all(nodes.map((node) => node.start()));
      const leader = await waitForLeader(nodes);
      const leaderId = leader.settings.nodeId;
      await writeBatches(leader.url, 0, 5);
      await waitForConvergence(nodes);

      page = await openPage();
      const response = await page.goto(`${leader.url}/ui`);
      expect(response?.status()).to.equal(200);
      const headers = response!.headers();
      expect(headers['content-security-policy']).to.match(/^default-src 'self';/);
      expect(headers['content-security-policy']).to.include("frame-ancestors 'none'");
      expect(headers['x-content-type-options']).to.equal('nosniff');

      // Three members: the leader this test found, and two followers; every one in its epoch.
      const members = await waitForShown(
        page,
        'three members, one leader',
        () => {
          const rows = Array.from(document.querySelectorAll('#members tbody tr'));
          const roles = rows.map((row) => row.querySelector('.role')?.textContent).sort();
          return rows.length === 3 && roles.join() === 'follower,follower,leader';
        },
        nodes,
      ).then(() => page!.evaluate(shownMembers));
      expect(members.map((member) => member.node)).to.deep.equal(['n1', 'n2', 'n3']);
      expect(members.filter((member) => member.role === 'leader').map((m) => m.node)).to.deep.equal(
        [leaderId],
      );
      const leaderStatus = await leader.status();
      for (const member of members) expect(member.epoch).to.equal(leaderStatus.epoch);
      const appliedBefore = Math.max(...members.map((member) => member.applied));
      expect(appliedBefore).to.be.at.most(leaderStatus.lastSeqno);

      // After more writes, every member's applied and durable seqno on the page reach the
      // leader's last seqno: the figures follow the cluster.
      await writeBatches(leader.url, 5, 15);
      const { lastSeqno } = await leader.status();
      expect(lastSeqno).to.be.above(appliedBefore);
      await waitForShown(
        page,
        `every member applied and durable at seqno ${lastSeqno}`,
        (seqno) => {
          const rows = Array.from(document.querySelectorAll('#members tbody tr'));
          const at = (row: ShownElement, selector: string): number =>
            Number((row.querySelector(selector)?.textContent ?? '').replace(/,/g, ''));
          return (
            rows.length === 3 &&
            rows.every((row) => at(row, '.applied') >= seqno && at(row, '.durable') >= seqno)
          );
        },
        nodes,
        lastSeqno,
      );
      const after = await page.evaluate(shownMembers);
      for (const member of after) {
        expect(member.applied, member.node).to.be.above(appliedBefore);
        expect(member.lag, member.node).to.be.at.least(0);
      }

      // The event tail ends with the last write; the storage panels show what the node holds.
      await waitForShown(
        page,
        'the last write at the top of the event tail',
        (seqno) => {
          const first = document.querySelector('#events tbody tr');
          const shown = (first?.querySelector('.seqno')?.textContent ?? '').replace(/,/g, '');
          return Number(shown) === seqno && first?.querySelector('.type')?.textContent === 'put';
        },
        nodes,
        lastSeqno,
      );
      const tail = await page.evaluate(() =>
        Array.from(document.querySelectorAll('#events tbody tr')).map((row) => ({
          seqno: Number((row.querySelector('.seqno')?.textContent ?? '').replace(/,/g, '')),
          key: row.querySelector('.key')?.textContent ?? '',
        })),
      );
      expect(tail).to.have.length(50);
      expect(tail.map((event) => event.seqno)).to.deep.equal(
        Array.from({ length: 50 }, (_, index) => lastSeqno - index),
      );
      expect(tail[0]!.key).to.equal('orders/0299');

      const stats = (await (await fetch(`${leader.url}/v1/stats`)).json()) as {
        log: { segmentCount: number; firstRetainedSeqno: number };
        tree: { levels: { segmentCount: number }[] };
      };
      expect(stats.log.segmentCount).to.be.above(1);
      expect(stats.tree.levels.some((level) => level.segmentCount > 0)).to.equal(true);
      const storage = await page.evaluate(() => ({
        logSegments: document.querySelector('#log-segments')?.textContent ?? '',
        logSize: document.querySelector('#log-size')?.textContent ?? '',
        retained: document.querySelector('#log-retained')?.textContent ?? '',
        levels: Array.from(document.querySelectorAll('#levels tbody tr')).map(
          (row) => row.querySelector('.segments')?.textContent ?? '',
        ),
        writeRate: document.querySelector('#write-rate')?.textContent ?? '',
        readRate: document.querySelector('#read-rate')?.textContent ?? '',
        scrubShown: !(document.querySelector('#scrub-panel')?.hidden ?? true),
        scrubFields: Array.from(document.querySelectorAll('#scrub > div')).map(
          (field) => field.dataset['field'] ?? '',
        ),
      }));
      expect(Number(storage.logSegments)).to.be.above(1);
      expect(storage.logSize).to.match(/^\d+(\.\d)? (B|KiB|MiB)$/);
      expect(storage.retained).to.match(/^1 – [\d,]+ \([\d,]+\)$/);
      expect(storage.levels).to.have.length(stats.tree.levels.length);
      expect(storage.levels.some((count) => Number(count) > 0)).to.equal(true);
      expect(storage.writeRate).to.match(/^[\d,.]+$/);
      expect(storage.readRate).to.match(/^[\d,.]+$/);
      // The scrub panel appears exactly when the node's status has a scrub part.
      const status = (await (await fetch(`${leader.url}/v1/status`)).json()) as {
        scrub?: Record<string, unknown> | null;
      };
      const scrub = typeof status.scrub === 'object' ? status.scrub : null;
      expect(storage.scrubShown).to.equal(scrub !== null);
      if (scrub !== null) expect(storage.scrubFields).to.deep.equal(Object.keys(scrub));

      await mkdir(dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect((await stat(SCREENSHOT)).size).to.be.above(10_000);
      expect(pageErrors).to.deep.equal([]);
    });
  });

  describe('on a node with --token', function () {
    let node: NodeProcess | undefined;
    let data: { path: string; remove(): Promise<void> } | undefined;
    let page: Page | undefined;

    afterEach(async function () {
      await page?.close();
      await node?.stop();
      await data?.remove();
    });

    it('serves the page without the token, asks for it, keeps it for the tab and sends it', async function () {
      data = await createTempDirectory('strata-dashboard-');
      node = await startNodeProcess(data.path, ['--token', 'open-sesame', '--node-id', 'solo']);
      const unauthenticated = await fetch(`${node.url}/v1/status`);
      expect(unauthenticated.status).to.equal(401);
      await unauthenticated.arrayBuffer();

      page = await openPage();
      const response = await page.goto(`${node.url}/ui`);
      expect(response?.status()).to.equal(200);
      await page.waitForFunction(
        () => !(document.querySelector('#token-form')?.hidden ?? true),
        undefined,
        { timeout: SHOWN_WITHIN_MS },
      );
      expect(await page.evaluate(() => document.querySelector('#panels')?.hidden)).to.equal(true);

      // A wrong token is refused and the page says so.
      await page.fill('#token-input', 'wrong');
      await page.click('#token-form button');
      await page.waitForFunction(
        () =>
          document.querySelector('#token-error')?.textContent === 'the token was refused' &&
          !(document.querySelector('#token-form')?.hidden ?? true),
        undefined,
        { timeout: SHOWN_WITHIN_MS },
      );

      await page.fill('#token-input', 'open-sesame');
      await page.click('#token-form button');
      await page.waitForFunction(
        () => document.querySelector('#members tbody tr .role')?.textContent === 'standalone',
        undefined,
        { timeout: SHOWN_WITHIN_MS },
      );
      expect(await page.evaluate(shownMembers)).to.deep.equal([
        { node: 'solo', role: 'standalone', epoch: 1, applied: 0, durable: 0, lag: 0 },
      ]);
      expect(await page.evaluate(() => sessionStorage.getItem('strata.token'))).to.equal(
        'open-sesame',
      );

      // A write shows up in the tail, read with the token from the tab's session storage.
      const put = await fetch(`${node.url}/v1/kv/greeting`, {
        method: 'PUT',
        headers: { authorization: 'Bearer open-sesame' },
        body: 'hello',
      });
      expect(put.status).to.equal(200);
      await put.arrayBuffer();
      await page.reload();
      await page.waitForFunction(
        () => document.querySelector('#events tbody tr .key')?.textContent === 'greeting',
        undefined,
        { timeout: SHOWN_WITHIN_MS },
      );
      expect(await page.evaluate(() => document.querySelector('#token-form')?.hidden)).to.equal(
        true,
      );
      // The only errors: the 401s that made the page ask (no token, then the wrong one).
      expect(
        pageErrors.filter(
          (error) => !/^401 http:\/\/127\.0\.0\.1:\d+\/v1\/(status|stats)$/.test(error),
        ),
      ).to.deep.equal([]);
      expect(pageErrors.length).to.be.at.least(2);
    });
  });
});

/**
 * Batches of 20 puts (`orders/<n>`, n from `firstBatch * 20`, values of about 450 bytes) to the
 * leader, one after another.
 */
async function writeBatches(url: string, firstBatch: number, endBatch: number): Promise<void> {
  for (let batch = firstBatch; batch < endBatch; batch++) {
    const ops = Array.from({ length: 20 }, (_, index) => {
      const n = batch * 20 + index;
      return {
        type: 'put' as const,
        key: `orders/${String(n).padStart(4, '0')}`,
        value: JSON.stringify({
          order: n,
          item: `widget-${n % 7}`,
          quantity: 1 + (n % 5),
          note: 'gift wrap, leave at the door; '.repeat(12),
        }),
      };
    });
    expect(await postBatch(url, ops)).to.equal(200);
  }
}

/** Waits until `condition` holds in the page; on timeout, says what the nodes reported. */
async function waitForShown(
  page: Page,
  what: string,
  condition: (seqno: number) => boolean,
  nodes: readonly ClusterNode[],
  seqno = 0,
): Promise<void> {
  try {
    await page.waitForFunction(condition, seqno, { timeout: SHOWN_WITHIN_MS });
  } catch (error) {
    const shown = await page.evaluate(shownMembers).catch(() => []);
    throw new Error(
      `the page did not show ${what}: ${(error as Error).message}\nshown: ${JSON.stringify(shown)}\nnodes: ${JSON.stringify(await statuses(nodes))}`,
    );
  }
}
