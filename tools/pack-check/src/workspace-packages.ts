import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root directory. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The fields of a package.json that the pack check reads. */
export interface PackageManifest {
  readonly name: string;
  readonly version: string;
  readonly private?: boolean;
  readonly exports?: unknown;
  readonly bin?: Record<string, string>;
  readonly scripts?: Record<string, string>;
  readonly dependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
  readonly workspaces?: readonly string[];
}

/** One package of the npm workspaces. */
export interface WorkspacePackage {
  readonly name: string;
  readonly version: string;
  /** Absolute path of its folder. */
  readonly directory: string;
  /** Its folder relative to the repository root, e.g. `libs/store`. */
  readonly folder: string;
  readonly manifest: PackageManifest;
}

/** Reads and parses a package.json. */
export function readManifest(file: string): PackageManifest {
  return JSON.parse(readFileSync(file, 'utf8')) as PackageManifest;
}

/**
 * Every package of the root package.json's `workspaces` (a pattern is a folder, or a folder
 * followed by `/*`), sorted by folder.
 */
export function workspacePackages(root = REPO_ROOT): WorkspacePackage[] {
  const folders: string[] = [];
  for (const pattern of readManifest(join(root, 'package.json')).workspaces ?? []) {
    if (pattern.endsWith('/*')) {
      const parent = join(root, pattern.slice(0, -2));
      if (!existsSync(parent)) continue;
      for (const entry of readdirSync(parent, { withFileTypes: true })) {
        if (entry.isDirectory()) folders.push(join(parent, entry.name));
      }
    } else folders.push(join(root, pattern));
  }
  return folders
    .filter((directory) => existsSync(join(directory, 'package.json')))
    .map((directory) => {
      const manifest = readManifest(join(directory, 'package.json'));
      return {
        name: manifest.name,
        version: manifest.version,
        directory,
        folder: relative(root, directory),
        manifest,
      };
    })
    .sort((a, b) => a.folder.localeCompare(b.folder));
}

/**
 * The packages meant for the registry: every workspace package without `"private": true`.
 * Each builds with its tsconfig.build.json and is packed, installed and run by the pack check.
 */
export function publishablePackages(root = REPO_ROOT): WorkspacePackage[] {
  return workspacePackages(root).filter((pkg) => pkg.manifest.private !== true);
}
