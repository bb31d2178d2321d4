#!/usr/bin/env node
// Bundles the strata CLI for plain node: src/bin.ts -> dist/strata.js, plus the engine's worker
// entry -> dist/job-worker.js (the engine starts workers from ./job-worker.js beside the bundle).
// The workspace packages (@strata/*) are bundled from their TypeScript sources (the
// "@strata/source" export condition, so no package needs building first); every other package
// stays an import resolved from node_modules at run time (native addons, CommonJS, pino's workers).
// The dashboard's plain files (src/ui/assets/) are copied to dist/assets/: the bundle looks for
// them beside itself, as src/ui/dashboard-assets.ts does beside itself in the sources.
import { chmod, cp, rm } from 'node:fs/promises';
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
await rm(join(root, 'dist/assets'), { recursive: true, force: true });
await cp(join(root, 'src/ui/assets'), join(root, 'dist/assets'), { recursive: true });
console.log(
  `built apps/node/dist/strata.js, dist/job-worker.js and dist/assets/ in ${Date.now() - started} ms`,
);
