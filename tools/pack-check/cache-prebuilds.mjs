#!/usr/bin/env node
// Run by `npm install` (prepare). better-sqlite3 installs a prebuilt binary that prebuild-install
// downloads from GitHub, and compiles SQLite from source when it cannot (minutes on 2 cores):
// machines without that download do so on every fresh clone. After such a build, this stores the
// binary where prebuild-install keeps the binaries it downloaded (<npm cache>/_prebuilds/, named
// by prebuild-install's own download URL for this version, Node ABI and platform), so the next
// install with the same npm cache (another clone, a CI run) unpacks it instead of compiling.
// Does nothing when better-sqlite3 came prebuilt, or when the cache already holds the binary.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
let packageDirectory;
try {
  packageDirectory = dirname(require.resolve('better-sqlite3/package.json'));
} catch {
  process.exit(0);
}
const binary = 'build/Release/better_sqlite3.node';
// node-gyp leaves its Makefile behind a build from source; an unpacked prebuilt has none.
if (!existsSync(join(packageDirectory, 'build', 'Makefile'))) process.exit(0);
if (!existsSync(join(packageDirectory, binary))) process.exit(0);

const fromPackage = createRequire(join(packageDirectory, 'package.json'));
const rc = fromPackage('prebuild-install/rc.js');
const util = fromPackage('prebuild-install/util.js');
const pkg = JSON.parse(readFileSync(join(packageDirectory, 'package.json'), 'utf8'));
const cached = util.cachedPrebuild(util.getDownloadUrl({ ...rc(pkg), pkg }));
if (existsSync(cached)) process.exit(0);

mkdirSync(dirname(cached), { recursive: true });
const partial = `${cached}.${process.pid}.partial`;
const tar = spawnSync('tar', ['-czf', partial, '-C', packageDirectory, binary]);
if (tar.status !== 0) {
  rmSync(partial, { force: true });
  console.error(
    `cache-prebuilds: could not archive better-sqlite3's binary: ${String(tar.stderr)}`,
  );
  process.exit(0);
}
renameSync(partial, cached);
console.log(`cache-prebuilds: better-sqlite3 ${pkg.version} was built from source; its binary is`);
console.log(`cache-prebuilds: now in ${cached}, for the next install with this npm cache`);
