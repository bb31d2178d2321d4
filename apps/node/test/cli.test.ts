import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { cp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Store } from '@strata/store';
import { createTempDirectory } from '@strata/testing';
import type { NodeProcess } from './helpers.js';
import { parseNdjson, runCli, startNodeProcess, waitForSegments } from './helpers.js';

const CLI = fileURLToPath(new URL('../src/bin.ts', import.meta.url));

describe('strata CLI: help, replay, inspect, verify (black box)', function () {
  let data: { path: string; remove(): Promise<void> };
  let scratch: { path: string; remove(): Promise<void> };
  /** seqno -> [key, value|null] of the known data. */
  const history: { seqno: number; key: string; value: string | null }[] = [];

  before(async function () {
    data = await createTempDirectory('strata-node-cli-');
    scratch = await createTempDirectory('strata-node-cli-out-');
    const node = await startNodeProcess(data.path, ['--memtable-bytes', '64KiB']);
    for (let index = 1; index <= 30; index++) {
      const key = index % 3 === 0 ? `other/${index}` : `user/${index % 7}`;
      const response = await fetch(`${node.url}/v1/kv/${key}`, {
        method: 'PUT',
        body: `v${index}`,
      });
      const { seqno } = (await response.json()) as { seqno: number };
      history.push({ seqno, key, value: `v${index}` });
    }
    const deleted = await fetch(`${node.url}/v1/kv/user/1`, { method: 'DELETE' });
    history.push({
      seqno: ((await deleted.json()) as { seqno: number }).seqno,
      key: 'user/1',
      value: null,
    });
    const ops = Array.from({ length: 400 }, (_, index) => ({
      type: 'put',
      key: `bulk/${index}`,
      value: 'b'.repeat(300),
    }));
    const batch = (await (
      await fetch(`${node.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ ops }) })
    ).json()) as {
      firstSeqno: number;
    };
    ops.forEach((op, index) =>
      history.push({ seqno: batch.firstSeqno + index, key: op.key, value: op.value }),
    );
    // The segment tests below need a flushed segment: stopping cancels a running flush.
    await waitForSegments(node.url);
    expect(await node.stop()).to.equal(0);
  });

  after(async function () {
    await data.remove();
    await scratch.remove();
  });

  it('--help lists every command; each command --help explains its flags', async function () {
    const help = await runCli(['--help']);
    expect(help.code).to.equal(0);
    for (const command of ['serve', 'replay', 'inspect', 'verify', 'promote'])
      expect(help.stdout).to.include(command);
    const flags: Record<string, string[]> = {
      serve: [
        '--data',
        '--listen',
        '--node-id',
        '--token',
        'STRATA_TOKEN',
        '--insecure',
        '--max-value-bytes',
        '--memtable-bytes',
        '--request-timeout-ms',
        '--nats',
        '--cluster',
        '--role',
        '--acks',
      ],
      promote: ['--url', '--token'],
      replay: ['--data', '--from', '--to', '--prefix', '--into', '--no-progress'],
      inspect: ['--data', '--json'],
      verify: ['--data', '--json'],
    };
    for (const [command, names] of Object.entries(flags)) {
      const result = await runCli([command, '--help']);
      expect(result.code, command).to.equal(0);
      for (const name of names) expect(result.stdout, `${command} ${name}`).to.include(name);
    }
    const unknown = await runCli(['promote']);
    expect(unknown.code).to.not.equal(0);
  });

  it('replay prints every event as NDJSON in seqno order', async function () {
    const result = await runCli(['replay', '--data', data.path]);
    expect(result.code, result.stderr).to.equal(0);
    const lines = parseNdjson(result.stdout);
    expect(lines).to.have.length(history.length);
    lines.forEach((line, index) => {
      const expected = history[index]!;
      expect(line).to.include({
        seqno: expected.seqno,
        key: expected.key,
        value: expected.value,
        epoch: 1,
      });
      expect(line.type).to.equal(expected.value === null ? 'delete' : 'put');
    });
  });

  it('replay --from --to --prefix selects events (inclusive bounds)', async function () {
    const result = await runCli([
      'replay',
      '--data',
      data.path,
      '--from',
      '5',
      '--to',
      '31',
      '--prefix',
      'user/',
    ]);
    expect(result.code).to.equal(0);
    const expected = history.filter(
      (e) => e.seqno >= 5 && e.seqno <= 31 && e.key.startsWith('user/'),
    );
    expect(parseNdjson(result.stdout).map((line) => line.seqno)).to.deep.equal(
      expected.map((e) => e.seqno),
    );
  });

  it('replay reads next to a running node without writing to the directory', async function () {
    const node: NodeProcess = await startNodeProcess(data.path);
    try {
      const walDirectory = join(data.path, 'wal');
      const before = await snapshot(walDirectory);
      const result = await runCli(['replay', '--data', data.path, '--to', '3']);
      expect(result.code, result.stderr).to.equal(0);
      expect(parseNdjson(result.stdout).map((line) => line.seqno)).to.deep.equal([1, 2, 3]);
      expect(await snapshot(walDirectory)).to.deep.equal(before);
      const inspect = await runCli(['inspect', '--data', data.path]);
      expect(inspect.stdout).to.match(/lock\s+pid \d+ \(running\)/);
    } finally {
      expect(await node.stop()).to.equal(0);
    }
  });

  it('replay --into rebuilds a store as of --to (point-in-time restore)', async function () {
    const target = join(scratch.path, 'restored');
    const to = 20;
    const result = await runCli([
      'replay',
      '--data',
      data.path,
      '--to',
      String(to),
      '--into',
      target,
    ]);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stderr).to.include(`up to seqno ${to}`);
    const store = await Store.open(target);
    try {
      expect(store.lastSeqno).to.equal(to);
      const expected = new Map<string, string | null>();
      for (const event of history) if (event.seqno <= to) expected.set(event.key, event.value);
      for (const [key, value] of expected) {
        expect((await store.get(key))?.toString() ?? null, key).to.equal(value);
      }
      expect(await store.get('bulk/0')).to.equal(undefined);
    } finally {
      await store.close();
    }
    const again = await runCli(['replay', '--data', data.path, '--into', target]);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.include('must be a new or empty directory');
  });

  it('replay refuses a from below the log and a missing directory', async function () {
    const missing = await runCli(['replay', '--data', join(scratch.path, 'nothing')]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.include('does not exist');
  });

  it('inspect shows log segments, levels, last seqno and epoch; --json too', async function () {
    const text = await runCli(['inspect', '--data', data.path]);
    expect(text.code, text.stderr).to.equal(0);
    const last = history[history.length - 1]!.seqno;
    expect(text.stdout).to.match(new RegExp(`last seqno\\s+${last}`));
    expect(text.stdout).to.match(/epoch\s+1/);
    expect(text.stdout).to.include('00000000000000000001.log');
    expect(text.stdout).to.match(/level\s+segment\s+min key\s+max key/);
    const json = await runCli(['inspect', '--data', data.path, '--json']);
    const info = JSON.parse(json.stdout) as {
      lastSeqno: number;
      epoch: number;
      log: { segments: { firstSeqno: number; lastSeqno: number; sizeBytes: number }[] };
      tree: {
        levels: {
          level: number;
          segments: { id: number; itemCount: number; minKeyHex: string }[];
        }[];
      };
    };
    expect(info.lastSeqno).to.equal(last);
    expect(info.epoch).to.equal(1);
    expect(info.log.segments[0]).to.include({ firstSeqno: 1, lastSeqno: last });
    const segments = info.tree.levels.flatMap((level) => level.segments);
    expect(segments.length).to.be.above(0);
    expect(segments.reduce((sum, s) => sum + s.itemCount, 0)).to.be.at.least(history.length - 20);
  });

  it('verify passes a clean directory and names file and offset of log corruption', async function () {
    const clean = await runCli(['verify', '--data', data.path]);
    expect(clean.code, clean.stdout + clean.stderr).to.equal(0);
    expect(clean.stdout).to.match(/^ok: \d+ log records, [1-9]\d* segments checked, 0 problems/m);

    const copy = join(scratch.path, 'bad-log');
    await cp(data.path, copy, { recursive: true });
    const file = join(copy, 'wal', '00000000000000000001.log');
    const bytes = await readFile(file);
    const offset = 100; // inside one of the first records (the directory was closed cleanly)
    bytes[offset] = (bytes[offset] as number) ^ 0xff;
    await writeFile(file, bytes);
    const result = await runCli(['verify', '--data', copy]);
    expect(result.code).to.equal(1);
    expect(result.stdout).to.match(
      new RegExp(`CORRUPT ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} offset \\d+: CORRUPTION`),
    );
    const json = JSON.parse((await runCli(['verify', '--data', copy, '--json'])).stdout) as {
      ok: boolean;
      findings: { file: string; offset: number }[];
    };
    expect(json.ok).to.equal(false);
    expect(json.findings[0]!.file).to.equal(file);
    expect(json.findings[0]!.offset).to.be.at.most(offset);
  });

  it('verify names a damaged segment file', async function () {
    const copy = join(scratch.path, 'bad-segment');
    await cp(data.path, copy, { recursive: true });
    const folder = join(copy, 'tree', 'segments');
    const name = (await readdir(folder)).find((entry) => entry.endsWith('.seg'))!;
    const file = join(folder, name);
    const bytes = await readFile(file);
    bytes[20] = (bytes[20] as number) ^ 0xff;
    await writeFile(file, bytes);
    const result = await runCli(['verify', '--data', copy]);
    expect(result.code, result.stdout).to.equal(1);
    expect(result.stdout).to.include(`CORRUPT ${file} offset`);
  });

  it('verify exits 2 when it cannot check at all, and --json says so', async function () {
    const result = await runCli(['verify', '--data', join(scratch.path, 'absent')]);
    expect(result.code).to.equal(2);
    expect(result.stderr).to.include('does not exist');
    expect(result.stdout).to.equal('');
    const json = await runCli(['verify', '--data', join(scratch.path, 'absent'), '--json']);
    expect(json.code).to.equal(2);
    expect(JSON.parse(json.stdout)).to.deep.include({
      ok: false,
      checked: false,
      error: {
        code: 'INVALID_ARGUMENT',
        message: `data directory ${join(scratch.path, 'absent')} does not exist`,
      },
    });
  });
});

describe('strata verify and serve after a SIGKILL (black box)', function () {
  let crashed: { path: string; remove(): Promise<void> };
  let logFile: string;
  let log: Buffer;
  /** Start offsets of the records of the last log segment, in order. */
  let recordStarts: number[];

  before(async function () {
    crashed = await createTempDirectory('strata-node-crashed-');
    const node = await startNodeProcess(crashed.path);
    for (const [key, value] of [
      ['a', '1'],
      ['b', '2'],
      ['last', 'x'.repeat(2048)],
    ] as const) {
      const response = await fetch(`${node.url}/v1/kv/${key}`, { method: 'PUT', body: value });
      expect(response.status).to.equal(200);
    }
    // Both puts were acknowledged (fsynced); nothing is in flight when the node is killed.
    expect(await node.stop('SIGKILL')).to.equal('SIGKILL');
    const walDirectory = join(crashed.path, 'wal');
    const segments = (await readdir(walDirectory)).filter((name) => name.endsWith('.log')).sort();
    logFile = join(walDirectory, segments[segments.length - 1]!);
    log = await readFile(logFile);
    recordStarts = [];
    for (let offset = 0; offset < log.length; offset += 8 + log.readUInt32LE(offset))
      recordStarts.push(offset);
    expect(recordStarts.length).to.be.at.least(3);
  });

  after(async function () {
    await crashed.remove();
  });

  /** A copy of the crashed directory whose last log segment holds `bytes`. */
  async function copyWithLog(name: string, bytes: Buffer): Promise<{ data: string; file: string }> {
    const data = join(crashed.path, '..', `${crashed.path.split('/').pop()!}-${name}`);
    await cp(crashed.path, data, { recursive: true });
    const file = join(data, 'wal', logFile.split('/').pop()!);
    await writeFile(file, bytes);
    return { data, file };
  }

  async function expectCorruptionReported(
    data: string,
    file: string,
    offset: number,
  ): Promise<void> {
    const text = await runCli(['verify', '--data', data]);
    expect(text.code, text.stdout + text.stderr).to.equal(1);
    expect(text.stdout).to.include(`CORRUPT ${file} offset ${offset}: CORRUPTION`);
    expect(text.stdout).to.match(/^FAILED: /m);
    const json = await runCli(['verify', '--data', data, '--json']);
    expect(json.code, json.stderr).to.equal(1);
    const report = JSON.parse(json.stdout) as {
      ok: boolean;
      findings: { file: string; offset: number; code: string }[];
    };
    expect(report.ok).to.equal(false);
    expect(report.findings).to.have.length(1);
    expect(report.findings[0]).to.include({ file, offset, code: 'CORRUPTION' });
  }

  it('a flipped byte in the last acknowledged record: verify exits 1 naming file and offset; serve refuses to start', async function () {
    const damaged = Buffer.from(log);
    damaged[log.length - 100] = damaged[log.length - 100]! ^ 0xff;
    const { data, file } = await copyWithLog('last-record', damaged);
    try {
      const lastStart = recordStarts[recordStarts.length - 1]!;
      await expectCorruptionReported(data, file, lastStart);
      const serve = await serveUntilListeningOrExit(data);
      expect(serve.listening, 'the node started on a damaged log').to.equal(false);
      expect(serve.code).to.not.equal(0);
      expect(serve.stderr).to.include('CORRUPTION');
      expect(serve.stderr).to.include(file);
      // Nothing was cut: the damaged record is still on disk.
      expect((await readFile(file)).equals(damaged)).to.equal(true);
    } finally {
      await rm(data, { recursive: true, force: true });
    }
  });

  it('damage in the middle of the last segment of a crashed directory is exit 1 (not 2), in text and JSON', async function () {
    const damaged = Buffer.from(log);
    const victim = recordStarts[recordStarts.length - 2]!;
    damaged[victim + 9] = damaged[victim + 9]! ^ 0xff;
    const { data, file } = await copyWithLog('middle', damaged);
    try {
      await expectCorruptionReported(data, file, victim);
    } finally {
      await rm(data, { recursive: true, force: true });
    }
  });

  it('a torn tail (a record cut short, or zeros) stays a note with exit 0, naming file, offset and bytes', async function () {
    const lastStart = recordStarts[recordStarts.length - 1]!;
    const tails: [string, Buffer, number, string][] = [
      ['cut', log.subarray(0, log.length - 100), log.length - 100 - lastStart, 'record runs past'],
      ['zeros', Buffer.concat([log, Buffer.alloc(4096)]), 4096, 'zero bytes'],
    ];
    for (const [name, bytes, droppedBytes, reason] of tails) {
      const { data, file } = await copyWithLog(name, bytes);
      try {
        const offset = name === 'zeros' ? log.length : lastStart;
        const text = await runCli(['verify', '--data', data]);
        expect(text.code, text.stdout + text.stderr).to.equal(0);
        expect(text.stdout).to.include(`note: torn tail in ${file} at offset ${offset} (${reason}`);
        expect(text.stdout).to.include(`${droppedBytes} bytes`);
        const json = JSON.parse((await runCli(['verify', '--data', data, '--json'])).stdout) as {
          ok: boolean;
          notes: string[];
        };
        expect(json.ok).to.equal(true);
        expect(json.notes).to.have.length(1);
        expect(json.notes[0]).to.include(`${file} at offset ${offset}`);
        // verify never writes: the torn bytes are still there.
        expect((await readFile(file)).equals(bytes)).to.equal(true);
      } finally {
        await rm(data, { recursive: true, force: true });
      }
    }
  });
});

/**
 * Runs `strata serve` on `data` until it either prints that it listens (then it is killed) or
 * exits by itself; resolves with which one happened, its exit code and its stderr.
 */
function serveUntilListeningOrExit(
  data: string,
): Promise<{ listening: boolean; code: number | string | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CLI, 'serve', '--data', data, '--listen', '127.0.0.1:0'],
    { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  let listening = false;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (!listening && stdout.includes('listening on')) {
      listening = true;
      child.kill('SIGKILL');
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) =>
    child.once('close', (code, signal) => resolve({ listening, code: code ?? signal, stderr })),
  );
}

async function snapshot(directory: string): Promise<Record<string, [number, number]>> {
  const out: Record<string, [number, number]> = {};
  for (const name of await readdir(directory)) {
    const info = await stat(join(directory, name));
    out[name] = [info.size, info.mtimeMs];
  }
  return out;
}
