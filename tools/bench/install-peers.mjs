#!/usr/bin/env node
// Installs the benchmark peers before a benchmark runs. tools/bench is not an npm workspace, so the
// repository's `npm install` leaves out the peer stores (RocksDB, LevelDB and LMDB bindings) and
// autocannon; every `npm run bench:*` runs this first. It installs tools/bench/package.json's
// devDependencies, at the versions of tools/bench/package-lock.json, into tools/bench/node_modules,
// and does nothing when they are there already. The @strata/* packages, nats, tsx and
// better-sqlite3 (the SQLite peer, which the store's replication needs anyway) come from the
// repository's own node_modules, one directory up.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bench = dirname(fileURLToPath(import.meta.url));
const repo = join(bench, '..', '..');

/** The version of a package installed under `root`, or undefined. */
function installedVersion(root, name) {
  const manifest = join(root, 'node_modules', name, 'package.json');
  if (!existsSync(manifest)) return undefined;
  return JSON.parse(readFileSync(manifest, 'utf8')).version;
}

if (!existsSync(join(repo, 'node_modules', '@strata', 'store'))) {
  console.error('bench: run `npm install` at the repository root first');
  process.exit(1);
}
const manifest = JSON.parse(readFileSync(join(bench, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(bench, 'package-lock.json'), 'utf8'));
const missing = Object.keys(manifest.devDependencies ?? {}).filter(
  (name) => installedVersion(bench, name) !== lock.packages[`node_modules/${name}`]?.version,
);
if (missing.length > 0) {
  console.log(
    `bench: installing the benchmark peers into tools/bench/node_modules (${missing.join(', ')}); ` +
      'the repository install leaves them out, this happens once',
  );
  const started = Date.now();
  const install = spawnSync('npm', ['install', '--no-audit', '--no-fund'], {
    cwd: bench,
    stdio: 'inherit',
  });
  if (install.status !== 0) {
    console.error(`bench: npm install in tools/bench failed (exit ${install.status})`);
    process.exit(1);
  }
  console.log(`bench: peers installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
