/**
 * `npm run build:packages`: builds every publishable package (see {@link publishablePackages})
 * into its dist/: JavaScript and declarations by `tsc -b` over each package's
 * tsconfig.build.json, then the files of src/ that tsc does not emit (a generated codec's .js and
 * .d.ts, any other asset) copied beside them, then the package's own `build` script if it has
 * one (@strata/node bundles its CLI).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { WorkspacePackage } from './workspace-packages.js';
import { REPO_ROOT, publishablePackages } from './workspace-packages.js';

/** The files under `directory`, recursively, as paths relative to it. */
function filesUnder(directory: string): string[] {
  return readdirSync(directory, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(directory, join(entry.parentPath, entry.name)));
}

/** True for a source file tsc compiles (and so emits); declarations and assets are copied. */
function emittedByTsc(file: string): boolean {
  return file.endsWith('.ts') && !file.endsWith('.d.ts');
}

/** Runs a command to completion with inherited output; throws when it fails. */
function run(command: string, args: readonly string[], cwd: string): void {
  const result = spawnSync(command, args, { cwd, stdio: 'inherit' });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd} (exit ${result.status})`);
  }
}

/** Builds the publishable packages; returns them. */
export function buildPackages(root = REPO_ROOT): WorkspacePackage[] {
  const started = Date.now();
  const packages = publishablePackages(root);
  const configs = packages.map((pkg) => join(pkg.directory, 'tsconfig.build.json'));
  const missing = configs.filter((config) => !existsSync(config));
  if (missing.length > 0) {
    throw new Error(`a publishable package needs a tsconfig.build.json: ${missing.join(', ')}`);
  }
  run(join(root, 'node_modules', '.bin', 'tsc'), ['-b', ...configs], root);
  for (const pkg of packages) {
    const source = join(pkg.directory, 'src');
    for (const file of filesUnder(source).filter((name) => !emittedByTsc(name))) {
      const target = join(pkg.directory, 'dist', file);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(join(source, file), target);
    }
    if (pkg.manifest.scripts?.build !== undefined)
      run('npm', ['run', '-s', 'build'], pkg.directory);
  }
  const names = packages.map((pkg) => pkg.name).join(', ');
  console.log(`built ${names} in ${Date.now() - started} ms`);
  return packages;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  buildPackages();
}
