import { expect } from 'chai';
import { createTempDirectory } from '@strata/testing';
import type { NodeProcess } from './helpers.js';
import { startNodeProcess } from './helpers.js';

/** The node of the HTTP tests and shorthands for its routes. */
export interface HttpNode {
  readonly node: NodeProcess;
  readonly put: (
    key: string,
    body: string | Uint8Array,
    headers?: Record<string, string>,
  ) => Promise<Response>;
  readonly get: (key: string, query?: string) => Promise<Response>;
  readonly batch: (body: unknown) => Promise<Response>;
}

/**
 * Starts one node (small limits and short timeouts, so the bad-input tests run fast) before the
 * calling `describe` block's tests and stops it after them, asserting a clean exit (code 0).
 * Read `.node` and the shorthands inside tests, not at describe time.
 */
export function useHttpNode(): HttpNode {
  let node: NodeProcess | undefined;
  let data: { path: string; remove(): Promise<void> } | undefined;
  const running = (): NodeProcess => {
    if (!node) throw new Error('the HTTP test node is not running');
    return node;
  };
  before(async function () {
    data = await createTempDirectory('strata-node-http-');
    node = await startNodeProcess(data.path, [
      '--max-value-bytes',
      '1MiB',
      '--max-batch-bytes',
      '2MiB',
      '--request-timeout-ms',
      '1500',
      '--headers-timeout-ms',
      '1000',
      '--max-wait-ms',
      '1000',
    ]);
  });
  after(async function () {
    const code = await node?.stop();
    expect(code).to.equal(0);
    await data?.remove();
  });
  return {
    get node() {
      return running();
    },
    put: (key, body, headers = {}) =>
      fetch(`${running().url}/v1/kv/${key}`, { method: 'PUT', body, headers }),
    get: (key, query = '') => fetch(`${running().url}/v1/kv/${key}${query}`),
    batch: (body) =>
      fetch(`${running().url}/v1/batch`, {
        method: 'POST',
        body: typeof body === 'string' ? body : JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      }),
  };
}
