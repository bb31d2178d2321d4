import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkspacePackage } from './workspace-packages.js';
import { REPO_ROOT } from './workspace-packages.js';

/** A package packed by `npm pack`. */
export interface PackedPackage {
  readonly pkg: WorkspacePackage;
  /** Absolute path of the .tgz. */
  readonly tarball: string;
  /** The paths in the tarball, relative to its package folder, sorted. */
  readonly files: readonly string[];
}

/** An empty project outside the repository with the tarballs installed. */
export interface ConsumerProject {
  readonly directory: string;
  readonly installMs: number;
  /** What `npm install` printed (stdout and stderr). */
  readonly installOutput: string;
  /** Native addons given a prebuilt binary instead of a build from source. */
  readonly prebuilt: readonly string[];
}

/**
 * The environment for commands run as a user outside the repository would run them: without the
 * variables npm sets for the scripts it runs (`npm_*`, `INIT_CWD`: the repository's npm
 * configuration and folders) and without NODE_OPTIONS (which may carry the repository's
 * `--conditions=@strata/source`).
 */
export function outsideEnv(): NodeJS.ProcessEnv {
  return {
    ...Object.fromEntries(
      Object.entries(process.env).filter(
        // FORCE_COLOR (Nx sets it for the tasks it runs) makes console.log colour numbers even
        // into a pipe, and the README examples' output would no longer match what they show.
        ([name]) =>
          !/^npm_/i.test(name) &&
          name !== 'INIT_CWD' &&
          name !== 'NODE_OPTIONS' &&
          name !== 'FORCE_COLOR',
      ),
    ),
    NO_COLOR: '1',
  };
}

/** Runs `npm pack` in the package's folder, writing the tarball into `destination`. */
export function packPackage(pkg: WorkspacePackage, destination: string): PackedPackage {
  mkdirSync(destination, { recursive: true });
  const result = spawnSync('npm', ['pack', '--json', '--pack-destination', destination], {
    cwd: pkg.directory,
    env: outsideEnv(),
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`npm pack of ${pkg.name} failed:\n${result.stderr}`);
  const [info] = JSON.parse(result.stdout) as { filename: string; files: { path: string }[] }[];
  if (info === undefined) throw new Error(`npm pack of ${pkg.name} reported no tarball`);
  return {
    pkg,
    tarball: join(destination, info.filename),
    files: info.files.map((file) => file.path).sort(),
  };
}

/**
 * better-sqlite3 fetches a prebuilt binary on install (prebuild-install) and builds from source
 * when it cannot, which takes minutes; this machine reaches no download host. It is given the
 * binary the repository's own install built, for the same version, Node ABI and platform, as a
 * local prebuild (prebuild-install's `local-prebuilds`, set in the project's
 * .prebuild-installrc). Returns the project's extra dependency (pinned to that version), or
 * undefined when no packed package needs better-sqlite3 or the repository has no binary.
 */
function betterSqlitePrebuild(
  packed: readonly PackedPackage[],
  project: string,
  repo: string,
): { name: string; version: string } | undefined {
  if (!packed.some((entry) => entry.pkg.manifest.dependencies?.['better-sqlite3'] !== undefined)) {
    return undefined;
  }
  const installed = join(repo, 'node_modules', 'better-sqlite3');
  const binary = 'build/Release/better_sqlite3.node';
  if (!existsSync(join(installed, binary))) return undefined;
  const { version } = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
    version: string;
  };
  const prebuilds = join(project, '.prebuilds');
  mkdirSync(prebuilds, { recursive: true });
  const abi = process.versions.modules;
  const archive = `better-sqlite3-v${version}-node-v${abi}-${process.platform}-${process.arch}.tar.gz`;
  const tar = spawnSync('tar', ['-czf', join(prebuilds, archive), '-C', installed, binary]);
  if (tar.status !== 0) throw new Error(`tar of ${binary} failed: ${String(tar.stderr)}`);
  writeFileSync(join(project, '.prebuild-installrc'), `local-prebuilds=${prebuilds}\n`);
  return { name: 'better-sqlite3', version };
}

/**
 * Makes `directory` an empty ES-module project that depends on every tarball and runs
 * `npm install` there (third-party packages from the npm cache when it has them).
 */
export function createConsumerProject(
  packed: readonly PackedPackage[],
  directory: string,
  repo = REPO_ROOT,
): ConsumerProject {
  mkdirSync(directory, { recursive: true });
  const dependencies: Record<string, string> = Object.fromEntries(
    packed.map((entry) => [entry.pkg.name, `file:${entry.tarball}`]),
  );
  const prebuilt = betterSqlitePrebuild(packed, directory, repo);
  if (prebuilt) dependencies[prebuilt.name] = prebuilt.version;
  const manifest = {
    name: 'strata-pack-check-consumer',
    version: '1.0.0',
    private: true,
    type: 'module',
    dependencies,
    allowScripts: prebuilt ? { [prebuilt.name]: true } : {},
  };
  writeFileSync(join(directory, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  const started = Date.now();
  const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd: directory,
    env: outsideEnv(),
    encoding: 'utf8',
  });
  const installMs = Date.now() - started;
  const installOutput = `${install.stdout}${install.stderr}`;
  if (install.status !== 0) throw new Error(`npm install failed:\n${installOutput}`);
  return { directory, installMs, installOutput, prebuilt: prebuilt ? [prebuilt.name] : [] };
}
