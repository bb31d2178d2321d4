import { readFile } from 'node:fs/promises';
import { StrataError } from '@strata/core';

/** One file of the dashboard as the node serves it. */
export interface DashboardAsset {
  readonly contentType: string;
  readonly body: Buffer;
}

/**
 * The dashboard's files, by the name `/ui/<name>` serves them under (`/ui` itself serves
 * `index.html`). They are plain files, shipped as they are: no build step makes them.
 */
export const DASHBOARD_FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

/**
 * Where the files are: `assets/` beside this module. In the sources that is src/ui/assets/; in
 * the bundle (dist/strata.js) it is dist/assets/, where scripts/build.mjs copies them.
 */
const ASSETS_DIRECTORY = new URL('./assets/', import.meta.url);

const loaded = new Map<string, Promise<DashboardAsset>>();

/**
 * The dashboard file `name` (one of {@link DASHBOARD_FILES}), read once and then kept; undefined
 * for any other name. A file missing from the installation is `INTERNAL` naming its path.
 */
export function dashboardAsset(name: string): Promise<DashboardAsset> | undefined {
  const contentType = Object.hasOwn(DASHBOARD_FILES, name) ? DASHBOARD_FILES[name] : undefined;
  if (contentType === undefined) return undefined;
  let asset = loaded.get(name);
  if (asset === undefined) {
    const url = new URL(name, ASSETS_DIRECTORY);
    asset = readFile(url).then(
      (body) => ({ contentType, body }),
      (error: unknown) => {
        loaded.delete(name);
        throw new StrataError('INTERNAL', `the dashboard file ${url.pathname} is missing`, {
          cause: error,
        });
      },
    );
    loaded.set(name, asset);
  }
  return asset;
}
