import { expect } from 'chai';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTempDirectory, findFreePort, startNatsServer } from '@strata/testing';
import type { NatsServerHandle } from '@strata/testing';
import { waitFor } from './cluster-helpers.js';
import { runCli, startNodeProcess } from './helpers.js';
import { logLinesOf } from './metrics-text.js';
import type { LogLine } from './metrics-text.js';

const BIN = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
const CWD = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLE_CONFIG = fileURLToPath(
  new URL('../../../docs/deployment/strata-standalone.json', import.meta.url),
);

/** A `strata serve` whose output is read while it runs. */
interface ServeProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<number | string>;
}

function spawnServe(args: readonly string[]): ServeProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', BIN, 'serve', ...args], {
    cwd: CWD,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited: new Promise((resolve) =>
      child.once('close', (code, signal) => resolve(code ?? signal ?? 'unknown')),
    ),
  };
}

function startupLine(stdout: string): LogLine | undefined {
  return logLinesOf(stdout).find((line) => line['event'] === 'startup');
}

describe('strata serve: a startup that explains itself (black box)', function () {
  this.timeout(300_000);
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  async function tempDirectory(): Promise<string> {
    const directory = await createTempDirectory('strata-startup-');
    cleanups.push(() => directory.remove());
    return directory.path;
  }

  describe('--data', function () {
    it('refuses a file, naming it, and creates nothing', async function () {
      const root = await tempDirectory();
      const file = join(root, 'data.txt');
      await writeFile(file, 'not a directory');
      const result = await runCli(['serve', '--data', file, '--listen', '127.0.0.1:0']);
      expect(result.code).to.equal(1);
      expect(result.stderr).to.equal(
        `strata serve: INVALID_ARGUMENT: --data ${file} is a file, not a directory: give the directory the node keeps its data in (created if missing)\n`,
      );
      expect(await readdir(root)).to.deep.equal(['data.txt']);
      // stdout is the log: JSON only, the reason as a fatal line.
      const lines = logLinesOf(result.stdout);
      expect(lines.map((line) => [line.level, line['code']])).to.deep.equal([
        [60, 'INVALID_ARGUMENT'],
      ]);
    });

    it('refuses a non-empty directory that is not a Strata data directory, touching nothing in it', async function () {
      const root = await tempDirectory();
      await writeFile(join(root, 'notes.txt'), 'mine');
      await mkdir(join(root, 'photos'));
      const result = await runCli(['serve', '--data', root, '--listen', '127.0.0.1:0']);
      expect(result.code).to.equal(1);
      expect(result.stderr).to.include(
        `--data ${root} is not a Strata data directory: it holds 2 entries (notes.txt, photos) and no FORMAT, wal/ or tree/`,
      );
      expect((await readdir(root)).sort()).to.deep.equal(['notes.txt', 'photos']);
    });

    it('accepts an empty directory (lost+found aside) and one a node wrote', async function () {
      const root = await tempDirectory();
      await mkdir(join(root, 'lost+found'));
      const node = await startNodeProcess(root);
      cleanups.push(() => node.stop('SIGKILL'));
      expect((await fetch(`${node.url}/v1/kv/a`, { method: 'PUT', body: 'x' })).status).to.equal(
        200,
      );
      expect(await node.stop('SIGTERM')).to.equal(0);
      const again = await startNodeProcess(root);
      cleanups.push(() => again.stop('SIGKILL'));
      expect(await (await fetch(`${again.url}/v1/kv/a`)).text()).to.equal('x');
    });
  });

  describe('--nats unreachable at startup', function () {
    let nats: NatsServerHandle | undefined;
    afterEach(async () => {
      await nats?.stop().catch(() => undefined);
      nats = undefined;
    });

    it('retries with backoff for --nats-wait-ms, then exits naming the URL and the cause', async function () {
      const port = await findFreePort();
      const url = `nats://127.0.0.1:${port}`;
      const data = await tempDirectory();
      const result = await runCli([
        'serve',
        '--data',
        data,
        '--listen',
        `127.0.0.1:${await findFreePort()}`,
        '--nats',
        url,
        '--cluster',
        'startup',
        '--nats-wait-ms',
        '3000',
      ]);
      expect(result.code).to.equal(1);
      expect(result.stderr).to.match(
        new RegExp(
          `^strata serve: IO_ERROR: cannot reach NATS at ${url}: connection refused: connect ECONNREFUSED 127\\.0\\.0\\.1:${port} \\(\\d+ attempts in \\d+\\.\\d s; --nats-wait-ms sets how long to try\\)\\n$`,
        ),
      );
      const lines = logLinesOf(result.stdout);
      const retries = lines.filter((line) => line.level === 40 && line['natsUrl'] === url);
      expect(retries.length).to.be.at.least(2);
      // Backoff: each pause is twice the one before (250, 500, ... capped by what is left).
      expect(retries[0]!['retryInMs']).to.equal(250);
      expect(retries[1]!['retryInMs']).to.be.above(0).and.at.most(500);
      expect(lines.at(-1)).to.include({ level: 60, code: 'IO_ERROR' });
    });

    it('starts once NATS comes up within the wait', async function () {
      nats = await startNatsServer();
      await nats.kill();
      const data = await tempDirectory();
      const serve = spawnServe([
        '--data',
        data,
        '--listen',
        `127.0.0.1:${await findFreePort()}`,
        '--nats',
        nats.url,
        '--cluster',
        'startup',
        '--cluster-size',
        '1',
        '--nats-wait-ms',
        '120000',
      ]);
      cleanups.push(async () => {
        serve.child.kill('SIGKILL');
        await serve.exited;
      });
      await waitFor('a retry warning', 60_000, () =>
        serve.stdout().includes('is not reachable') ? true : undefined,
      );
      await nats.restart();
      const startup = await waitFor(
        'the startup line',
        90_000,
        () => startupLine(serve.stdout()),
        () => `${serve.stdout()}\n${serve.stderr()}`,
      );
      expect(startup).to.include({ cluster: 'startup', acks: 'quorum' });
      serve.child.kill('SIGTERM');
      expect(await serve.exited).to.equal(0);
    });
  });

  describe('--config FILE', function () {
    it('takes the flags from a JSON file, and a flag on the command line wins', async function () {
      const root = await tempDirectory();
      const config = join(root, 'strata.json');
      const data = join(root, 'data');
      await writeFile(
        config,
        JSON.stringify({ data, sync: 'none', 'max-wait-ms': 250, 'log-level': 'info' }),
      );
      const node = await startNodeProcess(join(root, 'ignored'), ['--config', config]);
      cleanups.push(() => node.stop('SIGKILL'));
      // startNodeProcess passes --data and --log-level on the command line: they win.
      const startup = startupLine(node.output());
      expect(startup).to.include({ sync: 'none', dataDirectory: join(root, 'ignored') });
      // max-wait-ms came from the file: a minSeqno wait gives up after 250 ms.
      const started = Date.now();
      expect((await fetch(`${node.url}/v1/kv/a?minSeqno=99`)).status).to.equal(503);
      expect(Date.now() - started).to.be.below(4_500);
      expect(await node.stop('SIGTERM')).to.equal(0);

      const fromFile = await startNodeProcess(join(root, 'ignored'), [
        '--config',
        config,
        '--sync',
        'interval',
      ]);
      cleanups.push(() => fromFile.stop('SIGKILL'));
      expect(startupLine(fromFile.output())).to.include({ sync: 'interval' });
    });

    it('refuses an unknown setting, a value its flag refuses, and a file that is not JSON, naming file and setting', async function () {
      const root = await tempDirectory();
      const cases: [string, string][] = [
        ['{"dta": "/tmp/x"}', 'unknown setting "dta"'],
        [
          '{"sync": "sometimes"}',
          'setting "sync": "sometimes" is not one of always, interval, none',
        ],
        ['{"max-value-bytes": "lots"}', 'setting "max-value-bytes": "lots" is not a size'],
        ['{"insecure": "yes"}', 'setting "insecure": expected true or false'],
        ['[1, 2]', 'expected a JSON object of settings'],
        ['{"data": ', 'not JSON'],
      ];
      for (const [index, [text, reason]] of cases.entries()) {
        const config = join(root, `case-${index}.json`);
        await writeFile(config, text);
        const result = await runCli(['serve', '--config', config, '--data', join(root, 'd')]);
        expect(result.code, text).to.equal(1);
        expect(result.stderr, text).to.include(
          `strata serve: INVALID_ARGUMENT: config file ${config}: ${reason}`,
        );
      }
      expect(await readdir(root)).not.to.include('d');
    });

    it('the example config in docs/deployment starts a node (with --data and --listen given for the test)', async function () {
      const data = await tempDirectory();
      const node = await startNodeProcess(data, ['--config', EXAMPLE_CONFIG]);
      cleanups.push(() => node.stop('SIGKILL'));
      expect((await fetch(`${node.url}/healthz`)).status).to.equal(200);
      expect(startupLine(node.output())).to.include({ sync: 'always', dataDirectory: data });
    });
  });
});
