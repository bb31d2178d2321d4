#!/usr/bin/env node
// The `strata` command (the package's bin): runs the CLI bundle, dist/strata.js. In the repository
// `npm install` makes the bundle (and `npm run build` remakes it), so `npx strata serve` works.
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const bundle = new URL('../dist/strata.js', import.meta.url);
if (!existsSync(bundle)) {
  console.error('strata: dist/strata.js is missing; run `npm run build` in the repository first');
  process.exit(1);
}
await import(bundle.href);
