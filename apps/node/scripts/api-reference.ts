/**
 * Writes docs/API.md from the OpenAPI document the node serves (`npm run docs:api`). The docs
 * test calls {@link renderApiReference} and fails when the committed file differs, so the
 * reference cannot drift from the schemas the server validates with.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { apiReferenceMarkdown } from '../src/http/reference/api-reference-markdown.js';
import { openApiDocument } from '../src/http/reference/openapi-document.js';
import { ROUTE_SPECS } from '../src/http/schema/route-specs.js';
import { NODE_VERSION } from '../src/http/status-routes.js';

/** Where the reference lives in the repository. */
export const API_REFERENCE_FILE = fileURLToPath(new URL('../../../docs/API.md', import.meta.url));

/** docs/API.md as it must read: rendered from the OpenAPI document, formatted by prettier. */
export async function renderApiReference(): Promise<string> {
  const markdown = apiReferenceMarkdown(openApiDocument(ROUTE_SPECS, { version: NODE_VERSION }));
  const config = (await prettier.resolveConfig(API_REFERENCE_FILE)) ?? {};
  return prettier.format(markdown, { ...config, parser: 'markdown' });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(API_REFERENCE_FILE, await renderApiReference());
  console.log(`wrote ${API_REFERENCE_FILE}`);
}
