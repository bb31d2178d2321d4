// Probe: every file-system call of creating a store, one put and a close, with its start and end
// (ms from the open's start), through a proxy over the store's FileSystem seam. Calls that
// overlap ran at once on the thread pool; the gaps between them are the critical path's shape.
// Prints the last of several runs (the earlier ones warm up the code).
//
//   npx tsx tools/bench/src/probes/new-store-trace.ts [runs, default 40]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { nodeFileSystem } from '@strata/core';
import type { FileHandle, FileSystem } from '@strata/core';
import { Store } from '@strata/store';

const runs = Number(process.argv[2] ?? 40);
const root = await mkdtemp(join(tmpdir(), 'strata-new-store-trace-'));
let startedAt = 0;
let store = '';
const lines: string[] = [];

const at = (time: number): string => (time - startedAt).toFixed(3).padStart(7);
const shown = (path: string): string =>
  path.startsWith(store) ? path.slice(store.length) || '.' : path;
const mark = (what: string): void => {
  lines.push(`${''.padStart(7)} ${at(performance.now())} === ${what}`);
};

async function timed<T>(name: string, call: () => Promise<T>): Promise<T> {
  const start = performance.now();
  let outcome = '';
  try {
    return await call();
  } catch (error) {
    outcome = ` -> ${(error as { code?: string }).code ?? String(error)}`;
    throw error;
  } finally {
    lines.push(`${at(start)} ${at(performance.now())} ${name}${outcome}`);
  }
}

function tracedHandle(handle: FileHandle, path: string): FileHandle {
  const name = shown(path);
  return {
    read: (buffer, offset, length, position) =>
      timed(`read ${name}`, () => handle.read(buffer, offset, length, position)),
    readSync: (buffer, offset, length, position) =>
      handle.readSync(buffer, offset, length, position),
    writev: (buffers, position) => timed(`writev ${name}`, () => handle.writev(buffers, position)),
    writevSync: (buffers, position) => {
      lines.push(`${''.padStart(7)} ${at(performance.now())} writevSync ${name} (no round trip)`);
      handle.writevSync(buffers, position);
    },
    datasync: () => timed(`datasync ${name}`, () => handle.datasync()),
    truncate: (lengthBytes) => timed(`truncate ${name}`, () => handle.truncate(lengthBytes)),
    sizeBytes: () => timed(`size ${name}`, () => handle.sizeBytes()),
    close: () => timed(`close ${name}`, () => handle.close()),
  };
}

const fs: FileSystem = {
  open: async (path, mode, options) =>
    tracedHandle(
      await timed(`open ${mode}${options?.dsync ? ' O_DSYNC' : ''} ${shown(path)}`, () =>
        nodeFileSystem.open(path, mode, options),
      ),
      path,
    ),
  readdir: (path) => timed(`readdir ${shown(path)}`, () => nodeFileSystem.readdir(path)),
  mkdir: (path) => timed(`mkdir ${shown(path)}`, () => nodeFileSystem.mkdir(path)),
  rename: (from, to) =>
    timed(`rename ${shown(from)} -> ${shown(to)}`, () => nodeFileSystem.rename(from, to)),
  unlink: (path) => timed(`unlink ${shown(path)}`, () => nodeFileSystem.unlink(path)),
  removeTree: (path) => timed(`removeTree ${shown(path)}`, () => nodeFileSystem.removeTree(path)),
  link: (from, to) =>
    timed(`link ${shown(from)} -> ${shown(to)}`, () => nodeFileSystem.link(from, to)),
  stat: (path) => timed(`stat ${shown(path)}`, () => nodeFileSystem.stat(path)),
  exists: (path) => timed(`exists ${shown(path)}`, () => nodeFileSystem.exists(path)),
  syncDirectory: (path) =>
    timed(`fsync dir ${shown(path)}`, () => nodeFileSystem.syncDirectory(path)),
  readFile: (path) => timed(`readFile ${shown(path)}`, () => nodeFileSystem.readFile(path)),
};

try {
  for (let run = 0; run < runs; run++) {
    lines.length = 0;
    store = join(root, String(run));
    startedAt = performance.now();
    const opened = await Store.open(store, { fileSystem: fs });
    mark('open resolved');
    await opened.put(Buffer.from('key'), Buffer.from('value'));
    mark('put acknowledged');
    await opened.close();
    mark('close resolved');
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
console.log(
  `start ms  end ms  call (paths relative to the store's directory; run ${runs} of ${runs})`,
);
console.log(lines.join('\n'));
