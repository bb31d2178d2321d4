#!/usr/bin/env node
// Bundles the strata CLI for plain node: src/bin.ts -> dist/strata.js, plus the engine's worker
// entry -> dist/job-worker.js (the engine starts workers from ./job-worker.js beside the bundle).
// The workspace packages (@strata/*) are bundled from their TypeScript sources (the
// "@strata/source" export condition, so no package needs building first); every other package
// stays an import resolved from node_modules at run time (native addons, CommonJS, pino's workers).
import { chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const repo = join(root, '..', '..');

/** Keeps third-party packages external; bundles relative files and @strata/* workspace code. */
const externalPackages = {
  name: 'external-packages',
  setup(context) {
    context.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('@strata/')) return undefined;
      return { path: args.path, external: true };
    });
  },
};

const started = Date.now();
await build({
  entryPoints: {
    strata: join(root, 'src/bin.ts'),
    'job-worker': join(repo, 'libs/engine/src/compaction/job-worker.ts'),
  },
  outdir: join(root, 'dist'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  conditions: ['@strata/source'],
  sourcemap: true,
  logLevel: 'warning',
  plugins: [externalPackages],
  banner: { js: '#!/usr/bin/env node' },
});
await chmod(join(root, 'dist/strata.js'), 0o755);
console.log(`built apps/node/dist/strata.js and dist/job-worker.js in ${Date.now() - started} ms`);
