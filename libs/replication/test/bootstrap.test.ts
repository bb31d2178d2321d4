// Over 400 lines on purpose: the archive, install, interrupted-install and download cases share
// one fixture (a leader store filled per test and its archive) and the archive-layout and
// crafted-archive helpers; split by case, each file would repeat them.
import { expect } from 'chai';
import { cp, mkdir, readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SimulatedFileSystem, errnoOf, nodeFileSystem, seededRandom } from '@strata/core';
import type { FileHandle, FileStat, FileSystem, OpenMode, OpenOptions } from '@strata/core';
import { Store } from '@strata/store';
import {
  armPowerFailure,
  createTempDirectory,
  deterministicValue,
  findFreePort,
  rejectionOf,
} from '@strata/testing';
import {
  ARCHIVE_FORMAT_VERSION,
  ArchiveEncoder,
  archiveDirectory,
  checkpointArchive,
  fetchCheckpoint,
  installCheckpoint,
  recoverInterruptedBootstrap,
} from '../src/bootstrap/index.js';
import type { ArchiveEntry } from '../src/bootstrap/index.js';

const STORE_OPTIONS = { memtableSizeBytes: 64 * 1024, sync: 'none' } as const;

type TempDirectory = { path: string; remove(): Promise<void> };

interface StoreState {
  readonly lastSeqno: number;
  /** Every live key as `key=value@seqno`, in key order. */
  readonly items: readonly string[];
}

async function stateOf(store: Store): Promise<StoreState> {
  const items: string[] = [];
  for await (const item of store.range()) {
    items.push(`${item.key.toString()}=${item.value.toString()}@${item.seqno}`);
  }
  return { lastSeqno: store.lastSeqno, items };
}

/** Opens the store at `path`, reads its whole state, closes it. */
async function stateAt(path: string, fileSystem?: FileSystem): Promise<StoreState> {
  const store = await Store.open(path, { ...STORE_OPTIONS, ...(fileSystem ? { fileSystem } : {}) });
  try {
    return await stateOf(store);
  } finally {
    await store.close();
  }
}

function keyOf(prefix: string, index: number): string {
  return `${prefix}-${String(index).padStart(6, '0')}`;
}

/**
 * Writes `keys` keys (flushing half-way and at the end, and small memtables flush on their own),
 * then overwrites and deletes some: those live only in the log tail above the flushed segments.
 */
async function fill(store: Store, prefix: string, keys: number): Promise<void> {
  for (let index = 0; index < keys; index++) {
    const key = keyOf(prefix, index);
    await store.put(key, deterministicValue(key).repeat(3));
    if (index === Math.floor(keys / 2)) await store.flush();
  }
  await store.flush();
  for (let index = 0; index < keys; index += 7) {
    const key = keyOf(prefix, index);
    if (index % 2 === 0) await store.delete(key);
    else await store.put(key, `updated-${index}`);
  }
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of source) pieces.push(Buffer.from(piece));
  return Buffer.concat(pieces);
}

/** `bytes` as a stream of pieces whose sizes `nextSize` picks (at least 1 byte each). */
async function* inPieces(
  bytes: Buffer,
  nextSize: () => number = () => 64 * 1024,
  plainUint8Array = false,
): AsyncGenerator<Uint8Array, void, undefined> {
  for (let at = 0; at < bytes.length;) {
    const end = Math.min(bytes.length, at + Math.max(1, nextSize()));
    const piece = bytes.subarray(at, end);
    // Each piece arrives in a later microtask, as from a socket.
    await Promise.resolve();
    yield plainUint8Array ? new Uint8Array(piece) : piece;
    at = end;
  }
}

async function listOrEmpty(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return [];
    throw error;
  }
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (const started = Date.now(); !(await check());) {
    if (Date.now() - started > 10_000) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Where every frame of an archive starts, read independently of the library's parser. */
interface ArchiveLayout {
  readonly entries: { offset: number; kind: string; path: string; sizeBytes: number }[];
  readonly chunks: { offset: number; lengthBytes: number; path: string }[];
  readonly endOffset: number;
}

function layoutOf(archive: Buffer): ArchiveLayout {
  const entryCount = archive.readUInt32LE(28);
  const chunkSizeBytes = archive.readUInt32LE(32);
  const layout: ArchiveLayout = { entries: [], chunks: [], endOffset: 0 };
  let at = 40;
  for (let index = 0; index < entryCount; index++) {
    const kind = String.fromCharCode(archive[at]!);
    const pathBytes = archive.readUInt16LE(at + 1);
    const path = archive.toString('utf8', at + 3, at + 3 + pathBytes);
    const sizeBytes = Number(archive.readBigUInt64LE(at + 3 + pathBytes));
    layout.entries.push({ offset: at, kind, path, sizeBytes });
    at += 3 + pathBytes + 12;
    for (let position = 0; position < sizeBytes;) {
      const lengthBytes = Math.min(chunkSizeBytes, sizeBytes - position);
      layout.chunks.push({ offset: at, lengthBytes, path });
      at += lengthBytes + 4;
      position += lengthBytes;
    }
  }
  return { ...layout, endOffset: at };
}

/** An archive built frame by frame, checksums right, whatever the paths say. */
function craftedArchive(
  entries: readonly (Omit<ArchiveEntry, 'sizeBytes'> & { content?: string })[],
): Buffer {
  const encoder = new ArchiveEncoder();
  const chunkSizeBytes = 4;
  const parts = [
    encoder.header({ seqno: 0, treeSeqno: 0, entryCount: entries.length, chunkSizeBytes }),
  ];
  for (const entry of entries) {
    const content = Buffer.from(entry.content ?? '');
    parts.push(encoder.entry({ kind: entry.kind, path: entry.path, sizeBytes: content.length }));
    for (let at = 0; at < content.length; at += chunkSizeBytes) {
      parts.push(encoder.chunk(content.subarray(at, at + chunkSizeBytes)));
    }
  }
  parts.push(encoder.end());
  return Buffer.concat(parts);
}

const EMPTY_STORE_ARCHIVE_ENTRIES = [
  { kind: 'file', path: 'FORMAT', content: 'strata-data 1\n' },
  { kind: 'directory', path: 'tree' },
  { kind: 'directory', path: 'wal' },
] as const;

/** A node-local file that a bootstrap must never touch. */
const META_BYTES = Buffer.from(Array.from({ length: 3000 }, (_, index) => (index * 31) % 256));

/** A closed data directory with its own history and a `meta.sqlite`; returns its state. */
async function makeOldDataDirectory(path: string, keys = 300): Promise<StoreState> {
  const store = await Store.open(path, STORE_OPTIONS);
  await fill(store, 'old', keys);
  const state = await stateOf(store);
  await store.close();
  await writeFile(join(path, 'meta.sqlite'), META_BYTES);
  return state;
}

async function expectNoBootstrapLeftovers(root: string): Promise<void> {
  const names = await listOrEmpty(root);
  expect(names).to.not.include('bootstrap.tmp');
  expect(names).to.not.include('BOOTSTRAP');
  expect(names).to.not.include('.BOOTSTRAP.tmp');
}

describe('bootstrap: checkpoint archive and install', function () {
  let dir: TempDirectory;
  let source: Store;
  let sourceState: StoreState;

  beforeEach(async () => {
    dir = await createTempDirectory('bootstrap-');
    source = await Store.open(join(dir.path, 'leader'), STORE_OPTIONS);
  });
  afterEach(async () => {
    await source.close();
    await dir.remove();
  });

  async function fillSource(keys: number): Promise<void> {
    await fill(source, 'key', keys);
    sourceState = await stateOf(source);
  }

  function archiveOf(chunkSizeBytes?: number): AsyncGenerator<Buffer, void, undefined> {
    return checkpointArchive(source, {
      scratchDirectory: join(dir.path, 'scratch'),
      ...(chunkSizeBytes === undefined ? {} : { chunkSizeBytes }),
    });
  }

  it('round trip: a streamed checkpoint installs into an empty directory and opens as the same store, which continues from the leader', async () => {
    await fillSource(3000);
    const stats = source.stats();
    expect(stats.segmentCount, 'segments in the tree').to.be.greaterThan(1);
    const target = join(dir.path, 'follower');

    const installed = await installCheckpoint(archiveOf(16 * 1024), target);
    expect(installed.seqno).to.equal(source.lastSeqno);
    expect(installed.treeSeqno).to.be.greaterThan(0).and.lessThan(installed.seqno);
    expect(installed.files).to.be.greaterThan(3);
    expect(installed.sizeBytes).to.be.greaterThan(100_000);
    expect(await listOrEmpty(join(dir.path, 'scratch')), 'scratch copy removed').to.deep.equal([]);
    await expectNoBootstrapLeftovers(target);
    expect((await readdir(target)).sort()).to.deep.equal(['FORMAT', 'tree', 'wal']);

    const follower = await Store.open(target, STORE_OPTIONS);
    try {
      expect(await stateOf(follower)).to.deep.equal(sourceState);
      // The installed log continues the leader's chain: the next records apply as replicated.
      await source.put('after-bootstrap', 'yes');
      await source.delete(keyOf('key', 1));
      for await (const batch of source.subscribe({ from: installed.seqno + 1 })) {
        await follower.appendReplicated(batch.record);
        if (batch.lastSeqno >= source.lastSeqno) break;
      }
      expect(await stateOf(follower)).to.deep.equal(await stateOf(source));
    } finally {
      await follower.close();
    }
  });

  it('writes the documented layout: header, entries with chunks of the chosen size, end frame', async () => {
    await fillSource(400);
    const archive = await collect(archiveOf(1024));
    expect(archive.subarray(0, 8).toString('ascii')).to.equal('STRATACP');
    expect(archive.readUInt32LE(8)).to.equal(ARCHIVE_FORMAT_VERSION);
    expect(Number(archive.readBigUInt64LE(12))).to.equal(source.lastSeqno);
    const layout = layoutOf(archive);
    expect(layout.endOffset + 21).to.equal(archive.length);
    expect(archive[layout.endOffset]).to.equal(0x45);
    expect(layout.entries.map((entry) => entry.path).slice(0, 2)).to.deep.equal(['FORMAT', 'tree']);
    expect(layout.entries.some((entry) => entry.path.startsWith('tree/segments/'))).to.equal(true);
    expect(layout.entries.some((entry) => /^wal\/.+/.test(entry.path))).to.equal(true);
    expect(layout.chunks.every((chunk) => chunk.lengthBytes <= 1024)).to.equal(true);
    expect(layout.chunks.length).to.be.greaterThan(layout.entries.length);
    // A directory precedes everything below it.
    const seen = new Set<string>();
    for (const entry of layout.entries) {
      const parent = entry.path.includes('/')
        ? entry.path.slice(0, entry.path.lastIndexOf('/'))
        : '';
      if (parent !== '') expect(seen.has(parent), entry.path).to.equal(true);
      seen.add(entry.path);
    }
    // The same directory gives the same bytes.
    const copy = join(dir.path, 'copy');
    const result = await source.checkpoint(copy);
    const first = await collect(archiveDirectory(copy, result, { chunkSizeBytes: 1024 }));
    const second = await collect(archiveDirectory(copy, result, { chunkSizeBytes: 1024 }));
    expect(first.equals(second)).to.equal(true);
  });

  it('install over an existing, different data directory replaces wal/ and tree/ and keeps meta.sqlite byte for byte', async () => {
    await fillSource(800);
    const target = join(dir.path, 'follower');
    const oldState = await makeOldDataDirectory(target, 500);
    expect(oldState.items).to.not.deep.equal(sourceState.items);

    const installed = await installCheckpoint(archiveOf(), target);
    expect(installed.seqno).to.equal(sourceState.lastSeqno);
    expect(await readFile(join(target, 'meta.sqlite'))).to.deep.equal(META_BYTES);
    await expectNoBootstrapLeftovers(target);
    const state = await stateAt(target);
    expect(state).to.deep.equal(sourceState);
    expect(state.items.some((item) => item.startsWith('old-'))).to.equal(false);
  });

  it('parses pieces split at any byte: 1-byte pieces, random splits, plain Uint8Arrays', async () => {
    await fillSource(300);
    const archive = await collect(archiveOf(512));
    const runs: { name: string; pieces: () => AsyncIterable<Uint8Array> }[] = [
      { name: '1-byte', pieces: () => inPieces(archive, () => 1) },
      ...[1, 2, 3].map((seed) => {
        const random = seededRandom(seed);
        return {
          name: `random seed ${seed}`,
          pieces: () => inPieces(archive, () => 1 + Math.floor(random() * 3000), seed === 3),
        };
      }),
      { name: 'whole', pieces: () => inPieces(archive, () => archive.length) },
    ];
    for (const [index, run] of runs.entries()) {
      const target = join(dir.path, `follower-${index}`);
      const installed = await installCheckpoint(run.pieces(), target);
      expect(installed.seqno, run.name).to.equal(sourceState.lastSeqno);
      expect(await stateAt(target), run.name).to.deep.equal(sourceState);
    }
  });

  it('a checkpoint of an empty leader, and a hand-built minimal archive, install as empty stores', async () => {
    const installed = await installCheckpoint(archiveOf(), join(dir.path, 'empty'));
    expect(installed).to.include({ seqno: 0, treeSeqno: 0 });
    expect(await stateAt(join(dir.path, 'empty'))).to.deep.equal({ lastSeqno: 0, items: [] });

    const minimal = craftedArchive(EMPTY_STORE_ARCHIVE_ENTRIES);
    const result = await installCheckpoint(
      inPieces(minimal, () => 3),
      join(dir.path, 'minimal'),
    );
    expect(result).to.deep.equal({ seqno: 0, treeSeqno: 0, files: 1, sizeBytes: 14 });
    expect(await stateAt(join(dir.path, 'minimal'))).to.deep.equal({ lastSeqno: 0, items: [] });
  });

  it('refuses every kind of damage with the right code and offset, and leaves the old data as it was', async () => {
    await fillSource(400);
    const archive = await collect(archiveOf(1024));
    const layout = layoutOf(archive);
    const target = join(dir.path, 'follower');
    const oldState = await makeOldDataDirectory(target);

    const segmentChunks = layout.chunks.filter((chunk) => chunk.path.startsWith('tree/segments/'));
    const chunk = segmentChunks[1]!;
    const walEntry = layout.entries.find((entry) => /^wal\/.+/.test(entry.path))!;
    const flipped = (offset: number): Buffer => {
      const copy = Buffer.from(archive);
      copy[offset] = copy[offset]! ^ 0x5a;
      return copy;
    };
    const withVersion = (version: number): Buffer => {
      const copy = Buffer.from(archive);
      copy.writeUInt32LE(version, 8);
      return copy;
    };
    const cases: {
      name: string;
      bytes: Buffer | (() => AsyncIterable<Uint8Array>);
      code: string;
      offset?: number;
      message?: RegExp;
      maxTotalBytes?: number;
    }[] = [
      {
        name: 'a byte flipped inside a chunk',
        bytes: flipped(chunk.offset + 100),
        code: 'CORRUPTION',
        offset: chunk.offset,
        message: new RegExp(`checksum mismatch in chunk 1 of ${chunk.path}`),
      },
      {
        name: "a byte flipped in a chunk's checksum",
        bytes: flipped(chunk.offset + chunk.lengthBytes + 2),
        code: 'CORRUPTION',
        offset: chunk.offset,
      },
      {
        name: "a byte flipped in an entry header's path",
        bytes: flipped(walEntry.offset + 5),
        code: 'CORRUPTION',
        offset: walEntry.offset,
        message: /header checksum mismatch/,
      },
      {
        name: "a byte flipped in an entry header's size",
        bytes: flipped(walEntry.offset + 3 + walEntry.path.length + 1),
        code: 'CORRUPTION',
        offset: walEntry.offset,
      },
      {
        name: "a byte flipped in the archive header's seqno",
        bytes: flipped(13),
        code: 'CORRUPTION',
        offset: 0,
      },
      {
        name: "a byte flipped in the end frame's totals",
        bytes: flipped(layout.endOffset + 6),
        code: 'CORRUPTION',
        offset: layout.endOffset,
      },
      { name: 'bad magic', bytes: flipped(0), code: 'CORRUPTION', offset: 0, message: /magic/ },
      { name: 'version 99', bytes: withVersion(99), code: 'UNSUPPORTED_FORMAT', offset: 8 },
      {
        name: 'a byte after the end frame',
        bytes: Buffer.concat([archive, Buffer.from([0])]),
        code: 'CORRUPTION',
        offset: archive.length,
      },
      ...[
        0,
        7,
        12,
        39,
        40,
        walEntry.offset + 2,
        chunk.offset + 100,
        chunk.offset + chunk.lengthBytes + 1,
        layout.endOffset,
        archive.length - 1,
      ].map((cut) => ({
        name: `truncated at ${cut}`,
        bytes: archive.subarray(0, cut),
        code: 'CORRUPTION',
        offset: cut,
        message: /truncated/,
      })),
      {
        name: 'more than maxTotalBytes',
        bytes: archive,
        code: 'CORRUPTION',
        maxTotalBytes: 10_000,
        message: /limit of 10000 bytes/,
      },
      {
        name: 'a source that fails half-way',
        bytes: () =>
          (async function* () {
            yield archive.subarray(0, 5000);
            await new Promise((resolve) => setImmediate(resolve));
            throw new Error('connection reset');
          })(),
        code: 'IO_ERROR',
        message: /connection reset/,
      },
      ...['../x', '/etc/passwd', 'tree/../../x', 'meta.sqlite', 'LOCK', 'bootstrap.tmp/x'].map(
        (path) => ({
          name: `path ${path}`,
          bytes: craftedArchive([...EMPTY_STORE_ARCHIVE_ENTRIES, { kind: 'file', path }]),
          code: 'INVALID_ARGUMENT',
          offset: 40 + 3 + 'FORMAT'.length + 12 + 14 + 4 * 4 + (3 + 4 + 12) + (3 + 3 + 12),
        }),
      ),
      {
        name: 'path wal\\x',
        bytes: craftedArchive([{ kind: 'file', path: 'wal\\x', content: 'x' }]),
        code: 'INVALID_ARGUMENT',
        offset: 40,
      },
      {
        name: 'FORMAT as a directory',
        bytes: craftedArchive([{ kind: 'directory', path: 'FORMAT' }]),
        code: 'INVALID_ARGUMENT',
        offset: 40,
      },
      {
        name: 'a duplicate entry',
        bytes: craftedArchive([
          { kind: 'file', path: 'tree/a', content: 'one' },
          { kind: 'file', path: 'tree/a', content: 'two' },
        ]),
        code: 'CORRUPTION',
        message: /appears twice/,
      },
    ];
    for (const damage of cases) {
      const source =
        typeof damage.bytes === 'function'
          ? damage.bytes()
          : inPieces(damage.bytes, () => 1000 + (damage.name.length % 7) * 333);
      const error = await rejectionOf(
        installCheckpoint(source, target, {
          ...(damage.maxTotalBytes === undefined ? {} : { maxTotalBytes: damage.maxTotalBytes }),
        }),
      );
      expect(error.code, `${damage.name}: ${error.message}`).to.equal(damage.code);
      if (damage.offset !== undefined) {
        expect(error.details?.['offset'], `${damage.name}: ${error.message}`).to.equal(
          damage.offset,
        );
        expect(error.message, damage.name).to.include(`offset ${damage.offset}`);
      }
      if (damage.message) expect(error.message, damage.name).to.match(damage.message);
      await expectNoBootstrapLeftovers(target);
      expect(await readFile(join(target, 'meta.sqlite')), damage.name).to.deep.equal(META_BYTES);
    }
    expect(await stateAt(target)).to.deep.equal(oldState);
    // And after all those failures, the intact archive still installs.
    await installCheckpoint(inPieces(archive), target);
    expect(await stateAt(target)).to.deep.equal(sourceState);
  });

  it('a consumer that stops early or aborts, or an install that fails on damage, leaves no scratch copy', async () => {
    await fillSource(300);
    const scratch = join(dir.path, 'scratch');

    let pieces = 0;
    for await (const _piece of archiveOf(1024)) {
      if (++pieces === 3) break;
    }
    expect(pieces).to.equal(3);
    expect(await listOrEmpty(scratch)).to.deep.equal([]);

    const controller = new AbortController();
    const aborted = checkpointArchive(source, {
      scratchDirectory: scratch,
      chunkSizeBytes: 1024,
      signal: controller.signal,
    });
    await aborted.next();
    await aborted.next();
    expect(await listOrEmpty(scratch)).to.have.length(1);
    controller.abort();
    const error = await rejectionOf(aborted.next());
    expect(error.name).to.equal('AbortError');
    expect(await listOrEmpty(scratch)).to.deep.equal([]);

    // The installer stops reading at the damage; its return() reaches the live archive.
    async function* damaged(): AsyncGenerator<Uint8Array> {
      let index = 0;
      for await (const piece of archiveOf(1024)) {
        const copy = Buffer.from(piece);
        if (++index === 20) copy[0] = copy[0]! ^ 1;
        yield copy;
      }
    }
    const failure = await rejectionOf(installCheckpoint(damaged(), join(dir.path, 'follower')));
    expect(failure.code).to.equal('CORRUPTION');
    expect(await listOrEmpty(scratch)).to.deep.equal([]);
  });

  it('recoverInterruptedBootstrap finds nothing to do in a missing or clean directory, and discards a stray download', async () => {
    expect(await recoverInterruptedBootstrap(join(dir.path, 'missing'))).to.equal('none');
    const target = join(dir.path, 'follower');
    const oldState = await makeOldDataDirectory(target, 50);
    expect(await recoverInterruptedBootstrap(target)).to.equal('none');
    await mkdir(join(target, 'bootstrap.tmp', 'tree', 'segments'), { recursive: true });
    await writeFile(join(target, 'bootstrap.tmp', 'tree', 'segments', '1.seg'), 'partial');
    expect(await recoverInterruptedBootstrap(target)).to.equal('discarded-download');
    await expectNoBootstrapLeftovers(target);
    expect(await stateAt(target)).to.deep.equal(oldState);
  });

  describe('interrupted install', () => {
    it('stopped after each file-system step in turn, recovery yields the complete old state before the marker and the complete new state after it', async () => {
      await fillSource(300);
      const archive = await collect(archiveOf(4096));
      const template = join(dir.path, 'template');
      const oldState = await makeOldDataDirectory(template, 200);
      const markerPath = (root: string): string => join(root, 'BOOTSTRAP');

      // A full run, counting the steps and finding the one that puts the marker in place.
      const probeRoot = join(dir.path, 'probe');
      await cp(template, probeRoot, { recursive: true });
      const probe = new StoppingFileSystem(Number.POSITIVE_INFINITY);
      await installCheckpoint(inPieces(archive), probeRoot, { fileSystem: probe });
      expect(await stateAt(probeRoot)).to.deep.equal(sourceState);
      const markerStep = probe.steps.findIndex((step) =>
        step.endsWith(`-> ${markerPath(probeRoot)}`),
      );
      const markerRemovalStep = probe.steps.indexOf(`unlink ${markerPath(probeRoot)}`);
      expect(markerStep, 'the marker is renamed into place').to.be.greaterThan(10);
      expect(markerRemovalStep, 'the marker is removed').to.be.greaterThan(markerStep);
      expect(probe.steps.length).to.be.greaterThan(markerStep + 5);

      const outcomes = { old: 0, new: 0 };
      for (let stopAt = 0; stopAt < probe.steps.length; stopAt++) {
        const root = join(dir.path, `run-${stopAt}`);
        await cp(template, root, { recursive: true });
        const stopping = new StoppingFileSystem(stopAt);
        const error = await rejectionOf(
          installCheckpoint(inPieces(archive), root, { fileSystem: stopping }),
        );
        const label = `stopped at step ${stopAt} (${stopping.stoppedAt})`;
        expect(error.code, `${label}: ${error.message}`).to.equal('IO_ERROR');

        const recovery = await recoverInterruptedBootstrap(root);
        const expectNew = stopAt > markerStep;
        // Only once the marker itself is gone is there nothing left to finish.
        if (expectNew)
          expect(recovery, label).to.equal(stopAt > markerRemovalStep ? 'none' : 'completed-swap');
        else expect(recovery, label).to.be.oneOf(['none', 'discarded-download']);
        expect(await recoverInterruptedBootstrap(root), `${label}: idempotent`).to.equal('none');
        await expectNoBootstrapLeftovers(root);
        expect(await stateAt(root), label).to.deep.equal(expectNew ? sourceState : oldState);
        expect(await readFile(join(root, 'meta.sqlite')), label).to.deep.equal(META_BYTES);
        outcomes[expectNew ? 'new' : 'old']++;
        await rm(root, { recursive: true, force: true });
      }
      expect(outcomes.old).to.equal(markerStep + 1);
      expect(outcomes.new).to.be.greaterThan(5);
    });

    it('a recovery that is itself stopped after any step finishes the swap when run again', async () => {
      await fillSource(200);
      const archive = await collect(archiveOf(4096));
      const template = join(dir.path, 'template');
      await makeOldDataDirectory(template, 100);

      const probeRoot = join(dir.path, 'probe');
      await cp(template, probeRoot, { recursive: true });
      const probe = new StoppingFileSystem(Number.POSITIVE_INFINITY);
      await installCheckpoint(inPieces(archive), probeRoot, { fileSystem: probe });
      const markerStep = probe.steps.findIndex((step) =>
        step.endsWith(`-> ${join(probeRoot, 'BOOTSTRAP')}`),
      );
      const swapSteps = probe.steps.length - markerStep - 1;
      // Install stops: right after the marker, and in the middle of the swap.
      for (const installStop of [markerStep + 2, markerStep + 1 + Math.floor(swapSteps / 2)]) {
        for (let recoveryStop = 0; ; recoveryStop++) {
          const root = join(dir.path, `run-${installStop}-${recoveryStop}`);
          await cp(template, root, { recursive: true });
          await rejectionOf(
            installCheckpoint(inPieces(archive), root, {
              fileSystem: new StoppingFileSystem(installStop),
            }),
          );
          const stopping = new StoppingFileSystem(recoveryStop);
          const label = `install stopped at ${installStop}, recovery at ${recoveryStop}`;
          let finished = false;
          try {
            expect(await recoverInterruptedBootstrap(root, { fileSystem: stopping })).to.equal(
              'completed-swap',
            );
            finished = true;
          } catch (error) {
            expect((error as { code?: string }).code, label).to.equal('IO_ERROR');
          }
          const markerRemoved = stopping.steps.includes(`unlink ${join(root, 'BOOTSTRAP')}`);
          expect(await recoverInterruptedBootstrap(root), label).to.equal(
            finished || markerRemoved ? 'none' : 'completed-swap',
          );
          expect(await stateAt(root), label).to.deep.equal(sourceState);
          await expectNoBootstrapLeftovers(root);
          await rm(root, { recursive: true, force: true });
          if (finished) break;
        }
      }
    });

    it('a power loss while the archive downloads (simulated disk) leaves the old data, and recovery discards the download', async () => {
      await fillSource(200);
      const archive = await collect(archiveOf(4096));
      const root = '/data';
      const oldDisk = async (): Promise<{ disk: SimulatedFileSystem; state: StoreState }> => {
        const disk = new SimulatedFileSystem();
        const store = await Store.open(root, { ...STORE_OPTIONS, fileSystem: disk });
        await fill(store, 'old', 100);
        const state = await stateOf(store);
        await store.close();
        return { disk, state };
      };

      // Count the faultable operations up to the marker's rename (failing it, so the install
      // stops there: nothing after the marker is exercised on the simulated disk).
      const counting = await oldDisk();
      let operations = 0;
      let markerOperation = -1;
      counting.disk.setFaultInjector((operation, path) => {
        operations++;
        if (operation === 'rename' && path === `${root}/.BOOTSTRAP.tmp`) {
          markerOperation = operations;
          return 'EIO';
        }
        return undefined;
      });
      expect(
        (
          await rejectionOf(
            installCheckpoint(inPieces(archive), root, { fileSystem: counting.disk }),
          )
        ).code,
      ).to.equal('IO_ERROR');
      expect(markerOperation).to.be.greaterThan(10);

      // Power fails at every operation up to and including the directory fsync after the marker.
      for (let at = 1; at <= markerOperation + 1; at++) {
        const { disk, state } = await oldDisk();
        const failure = armPowerFailure(disk, at, seededRandom(at));
        const error = await rejectionOf(
          installCheckpoint(inPieces(archive), root, { fileSystem: disk }),
        );
        expect(failure.happened, `power failure at ${at}`).to.equal(true);
        expect(error.code, `at ${at}: ${error.message}`).to.equal('IO_ERROR');
        const rebooted = failure.disk;
        expect(await recoverInterruptedBootstrap(root, { fileSystem: rebooted })).to.be.oneOf([
          'none',
          'discarded-download',
        ]);
        expect(await rebooted.exists(`${root}/bootstrap.tmp`)).to.equal(false);
        expect(await stateAt(root, rebooted), `power failure at ${at}`).to.deep.equal(state);
      }
    });
  });

  describe('fetchCheckpoint', () => {
    async function withServer(
      handler: RequestListener,
      body: (url: string) => Promise<void>,
    ): Promise<void> {
      const server = createServer(handler);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      try {
        await body(`http://127.0.0.1:${port}`);
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    }

    it('streams a 200 answer into installCheckpoint, sending the bearer token; a consumer that stops early ends the leader stream', async () => {
      await fillSource(500);
      const scratch = join(dir.path, 'scratch');
      const requests: { url?: string; method?: string; authorization?: string }[] = [];
      const served: Promise<unknown>[] = [];
      const handler = (request: IncomingMessage, response: ServerResponse): void => {
        requests.push({
          url: request.url,
          method: request.method,
          authorization: request.headers.authorization,
        });
        response.writeHead(200, { 'content-type': 'application/octet-stream' });
        const archive = checkpointArchive(source, {
          scratchDirectory: scratch,
          chunkSizeBytes: 4096,
        });
        served.push(pipeline(Readable.from(archive), response).catch((error: unknown) => error));
      };
      await withServer(handler, async (url) => {
        const target = join(dir.path, 'follower');
        const installed = await installCheckpoint(
          await fetchCheckpoint(`${url}/`, { token: 'secret-token' }),
          target,
        );
        expect(installed.seqno).to.equal(sourceState.lastSeqno);
        expect(await stateAt(target)).to.deep.equal(sourceState);
        expect(requests[0]).to.deep.equal({
          url: '/v1/internal/checkpoint',
          method: 'GET',
          authorization: 'Bearer secret-token',
        });

        const early = await fetchCheckpoint(url);
        for await (const _piece of early) break;
        await Promise.all(served);
        expect(requests).to.have.length(2);
        expect(requests[1]!.authorization).to.equal(undefined);
        // The leader learns of the stop through the closed connection; its cleanup follows.
        await eventually(async () => (await listOrEmpty(scratch)).length === 0, 'scratch removed');
      });
    });

    it("maps an error answer to the leader's code when it is a Strata code, else IO_ERROR", async () => {
      await withServer(
        (request, response) => {
          if (request.headers.authorization === 'Bearer newer') {
            response.writeHead(503, { 'content-type': 'application/json' });
            response.end(JSON.stringify({ error: { code: 'NEWER_CODE', message: 'busy' } }));
          } else if (request.headers.authorization === 'Bearer json') {
            response.writeHead(503, { 'content-type': 'application/json' });
            response.end(
              JSON.stringify({
                error: { code: 'NOT_LEADER', message: 'node-2 is not the leader' },
              }),
            );
          } else {
            response.writeHead(500, { 'content-type': 'text/plain' });
            response.end('proxy error');
          }
        },
        async (url) => {
          const coded = await rejectionOf(fetchCheckpoint(url, { token: 'json' }));
          expect(coded.code).to.equal('NOT_LEADER');
          expect(coded.message).to.include('node-2 is not the leader');
          expect(coded.details?.['status']).to.equal(503);
          // A code this build does not know is not raised as one: IO_ERROR, quoting it.
          const unknown = await rejectionOf(fetchCheckpoint(url, { token: 'newer' }));
          expect(unknown.code).to.equal('IO_ERROR');
          expect(unknown.message).to.include('busy').and.include('"NEWER_CODE"');
          expect(unknown.details).to.include({ status: 503, sentCode: 'NEWER_CODE' });
          const plain = await rejectionOf(fetchCheckpoint(url));
          expect(plain.code).to.equal('IO_ERROR');
          expect(plain.message).to.include('500').and.include('proxy error');
          expect(plain.details?.['status']).to.equal(500);
        },
      );
    });

    it('reports a refused connection as IO_ERROR with the cause, and a stalled download as TIMEOUT', async () => {
      const port = await findFreePort();
      const refused = await rejectionOf(fetchCheckpoint(`http://127.0.0.1:${port}`));
      expect(refused.code).to.equal('IO_ERROR');
      expect(refused.cause).to.be.instanceOf(Error);
      expect(refused.message).to.match(/ECONNREFUSED|fetch failed/);

      await fillSource(50);
      const partial = (await collect(archiveOf())).subarray(0, 100);
      await withServer(
        (_request, response) => {
          response.writeHead(200);
          response.write(partial); // ... and then nothing more
        },
        async (url) => {
          const target = join(dir.path, 'follower');
          const oldState = await makeOldDataDirectory(target, 20);
          const started = Date.now();
          const error = await rejectionOf(
            installCheckpoint(await fetchCheckpoint(url, { timeoutMs: 300 }), target),
          );
          expect(error.code, error.message).to.equal('TIMEOUT');
          expect(Date.now() - started).to.be.lessThan(5000);
          await expectNoBootstrapLeftovers(target);
          expect(await stateAt(target)).to.deep.equal(oldState);

          // Aborted while it waits for bytes that never come: read what the leader sent, then
          // abort during the read that stalls.
          const controller = new AbortController();
          const download = (await fetchCheckpoint(url, { signal: controller.signal }))[
            Symbol.asyncIterator
          ]();
          for (let received = 0; received < partial.length;) {
            const piece = await download.next();
            expect(piece.done, 'the partial body arrives').to.equal(false);
            received += (piece.value as Uint8Array).byteLength;
          }
          const stalled = rejectionOf(download.next());
          controller.abort();
          const aborted = await stalled;
          expect(aborted.code).to.equal('CLOSED');
        },
      );
    });
  });
});

/**
 * The real file system, stopped after `stopAt` mutating steps: that step and every call after it
 * fail with EIO, as if the process died there. A directory tree is removed file by file, so a
 * stop can also fall inside a removal.
 */
class StoppingFileSystem implements FileSystem {
  /** The mutating steps that ran, as `operation path`. */
  readonly steps: string[] = [];
  stoppedAt: string | undefined;
  private readonly inner = nodeFileSystem;

  constructor(private readonly stopAt: number) {}

  /** Counts a mutating step; the step numbered `stopAt` fails, and so does everything after. */
  step(operation: string, path: string): void {
    this.alive(operation, path);
    if (this.steps.length >= this.stopAt) {
      this.stoppedAt = `${operation} ${path}`;
      throw eio(operation, path);
    }
    this.steps.push(`${operation} ${path}`);
  }

  alive(operation: string, path: string): void {
    if (this.stoppedAt !== undefined) throw eio(operation, path);
  }

  async open(path: string, mode: OpenMode, options?: OpenOptions): Promise<FileHandle> {
    if (mode === 'read') this.alive('open', path);
    else this.step(`open-${mode}`, path);
    return new StoppingHandle(this, await this.inner.open(path, mode, options), path);
  }

  async readdir(path: string): Promise<string[]> {
    this.alive('readdir', path);
    return await this.inner.readdir(path);
  }

  async mkdir(path: string): Promise<void> {
    this.step('mkdir', path);
    return await this.inner.mkdir(path);
  }

  async rename(from: string, to: string): Promise<void> {
    this.step('rename', `${from} -> ${to}`);
    return await this.inner.rename(from, to);
  }

  async unlink(path: string): Promise<void> {
    this.step('unlink', path);
    return await this.inner.unlink(path);
  }

  async removeTree(path: string): Promise<void> {
    this.alive('removeTree', path);
    let stat: FileStat;
    try {
      stat = await this.inner.stat(path);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return;
      throw error;
    }
    if (!stat.isDirectory) {
      await this.unlink(path);
      return;
    }
    for (const name of (await this.inner.readdir(path)).sort()) {
      await this.removeTree(join(path, name));
    }
    this.step('rmdir', path);
    await rmdir(path);
  }

  async link(from: string, to: string): Promise<void> {
    this.step('link', to);
    return await this.inner.link(from, to);
  }

  async stat(path: string): Promise<FileStat> {
    this.alive('stat', path);
    return await this.inner.stat(path);
  }

  async exists(path: string): Promise<boolean> {
    this.alive('stat', path);
    return await this.inner.exists(path);
  }

  async syncDirectory(path: string): Promise<void> {
    this.step('fsync', path);
    return await this.inner.syncDirectory(path);
  }

  async readFile(path: string): Promise<Buffer> {
    this.alive('readFile', path);
    return await this.inner.readFile(path);
  }
}

class StoppingHandle implements FileHandle {
  constructor(
    private readonly fs: StoppingFileSystem,
    private readonly inner: FileHandle,
    private readonly path: string,
  ) {}

  async read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<number> {
    this.fs.alive('read', this.path);
    return await this.inner.read(buffer, offset, length, position);
  }

  readSync(buffer: Uint8Array, offset: number, length: number, position: number): number {
    this.fs.alive('read', this.path);
    return this.inner.readSync(buffer, offset, length, position);
  }

  async writev(buffers: readonly Uint8Array[], position: number): Promise<void> {
    this.fs.step('write', this.path);
    return await this.inner.writev(buffers, position);
  }

  writevSync(buffers: readonly Uint8Array[], position: number): void {
    this.fs.step('write', this.path);
    this.inner.writevSync(buffers, position);
  }

  async datasync(): Promise<void> {
    this.fs.step('fdatasync', this.path);
    return await this.inner.datasync();
  }

  async truncate(lengthBytes: number): Promise<void> {
    this.fs.step('truncate', this.path);
    return await this.inner.truncate(lengthBytes);
  }

  async sizeBytes(): Promise<number> {
    this.fs.alive('fstat', this.path);
    return await this.inner.sizeBytes();
  }

  close(): Promise<void> {
    // Always allowed: a dead process's descriptors are closed by the kernel.
    return this.inner.close();
  }
}

function eio(operation: string, path: string): Error {
  return Object.assign(new Error(`EIO: stopped before ${operation} '${path}'`), {
    code: 'EIO',
    syscall: operation,
    path,
  });
}
