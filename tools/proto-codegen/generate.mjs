#!/usr/bin/env node
// Generates the static protobufjs codec for libs/wal/proto/log.proto into libs/wal/src/generated/.
// Runs on `npm install` (prepare) and before type-checking, so generated code is never committed.
import { execFileSync } from 'node:child_process';
import { mkdirSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const protoFile = join(root, 'libs/wal/proto/log.proto');
const outDir = join(root, 'libs/wal/src/generated');
const jsOut = join(outDir, 'log.js');
const dtsOut = join(outDir, 'log.d.ts');

if (!existsSync(bin('pbjs'))) {
  // During the very first dependency install the CLI may not be linked yet; npm runs prepare last.
  console.error('proto-codegen: pbjs not installed; run `npm install` first');
  process.exit(1);
}
mkdirSync(outDir, { recursive: true });
execFileSync(
  bin('pbjs'),
  [
    '--target',
    'static-module',
    '--wrap',
    'es6',
    '--es6',
    '--force-number',
    '--no-create',
    '--no-verify',
    '--no-convert',
    '--no-delimited',
    '--no-service',
    '--no-typeurl',
    '--out',
    jsOut,
    protoFile,
  ],
  { stdio: 'inherit' },
);
execFileSync(bin('pbts'), ['--no-comments', '--out', dtsOut, jsOut], { stdio: 'inherit' });
console.log(`proto-codegen: wrote ${jsOut} and ${dtsOut}`);
