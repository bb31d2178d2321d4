import { expect } from 'chai';
import { Validator } from '@seriousme/openapi-schema-validator';
import { STATUS_BY_CODE } from '../src/http/errors.js';
import { ROUTE_SPECS } from '../src/http/schema/route-specs.js';
import { errorOf } from './helpers.js';
import type { NodeProcess } from './helpers.js';
import { useHttpNode } from './http-fixture.js';
import { exchange, malformedRequests } from './malformed-requests.js';

/** How many malformed requests the fuzz sends (STRATA_FUZZ_REQUESTS scales it). */
const FUZZ_REQUESTS = Number(process.env['STRATA_FUZZ_REQUESTS'] ?? 2_000);
/** Its seed (STRATA_FUZZ_SEED replays another run). */
const FUZZ_SEED = Number(process.env['STRATA_FUZZ_SEED'] ?? 20261202);

/** The parts of the OpenAPI document the test reads. */
interface OpenApiPaths {
  readonly openapi: string;
  readonly paths: Record<string, Record<string, { parameters: { name: string; in: string }[] }>>;
}

describe('strata serve: the API schema, its OpenAPI document and malformed requests', function () {
  const http = useHttpNode();
  let node: NodeProcess;
  before(function () {
    node = http.node;
  });

  it('serves an OpenAPI 3.1 document that a validator accepts, naming every route and parameter', async function () {
    const response = await fetch(`${node.url}/v1/openapi.json`);
    expect(response.status).to.equal(200);
    const raw = (await response.json()) as Record<string, unknown>;
    const document = raw as unknown as OpenApiPaths;
    expect(document.openapi).to.equal('3.1.0');
    const result = await new Validator().validate(structuredClone(raw));
    expect(result.errors ?? [], 'OpenAPI 3.1 schema errors').to.deep.equal([]);
    expect(result.valid).to.equal(true);
    // The validator refuses what is wrong: a parameter in a place OpenAPI does not have.
    const broken = structuredClone(raw);
    (broken as unknown as OpenApiPaths).paths['/v1/kv/{key}']!['get']!.parameters[0]!.in = 'body';
    expect((await new Validator().validate(broken)).valid).to.equal(false);
    for (const spec of ROUTE_SPECS) {
      const path = spec.path.replace(/:([A-Za-z]+)/g, '{$1}');
      const operation = document.paths[path]?.[spec.method.toLowerCase()];
      expect(operation, `${spec.method} ${spec.path}`).to.not.equal(undefined);
      const query = operation!.parameters
        .filter((parameter) => parameter.in === 'query')
        .map((parameter) => parameter.name);
      expect(query).to.deep.equal(spec.query.map((parameter) => parameter.name));
    }
  });

  it('refuses what the schemas do not allow, naming it, and writes nothing', async function () {
    const refusals: [string, RequestInit, RegExp][] = [
      ['/v1/kv?limit=0x10', {}, /^limit must be an integer of at least 1, got "0x10"$/],
      ['/v1/kv?limit=1e3', {}, /^limit must be an integer of at least 1/],
      ['/v1/kv?limit=0', {}, /^limit must be an integer of at least 1/],
      ['/v1/kv?limit=%205', {}, /^limit must be an integer/],
      ['/v1/kv?reverse=yes', {}, /^reverse must be true or false/],
      ['/v1/kv?limit=1&limit=2', {}, /^query parameter limit is given more than once$/],
      [
        '/v1/events?from=1&limit=-2',
        {},
        /^unknown query parameter limit for GET \/v1\/events; it takes from, to, prefix, follow, encoding$/,
      ],
      ['/v1/kv/k?acks=all', { method: 'PUT', body: 'v' }, /^acks must be one of leader, quorum/],
      [
        '/v1/batch',
        { method: 'POST', body: '{"ops":[{"type":"put","key":"a","value":"v","colour":"red"}]}' },
        /^ops\[0\] has an unknown field colour$/,
      ],
      [
        '/v1/batch',
        { method: 'POST', body: '{"ops":[{"type":"put","key":"a"}]}' },
        /^ops\[0\] needs value$/,
      ],
      [
        '/v1/batch',
        { method: 'POST', body: '{"ops":[{"type":"upsert","key":"a"}]}' },
        /^ops\[0\]\.type must be "put", "delete" or "deleteRange", got "upsert"$/,
      ],
      [
        '/v1/batch',
        { method: 'POST', body: '{"ops":[],"dryRun":true}' },
        /^the body has an unknown field dryRun$|^ops must not be empty$/,
      ],
      [
        '/v1/batch',
        { method: 'POST', body: '{"ops":[{"type":"put","key":"a","value":"v","ttlMs":0}]}' },
        /^ops\[0\]\.ttlMs must be at least 1$/,
      ],
      [
        '/v1/batch',
        { method: 'POST', body: '{"ops":[{"type":"delete","key":""}]}' },
        /^ops\[0\]\.key must not be empty$/,
      ],
      [
        '/v1/batch',
        {
          method: 'POST',
          body: '{"ops":[{"type":"put","key":"a","value":"v"}],"checks":[{"prefix":"a"}]}',
        },
        /^checks\[0\] needs noWritesAfter$/,
      ],
    ];
    for (const [path, init, message] of refusals) {
      const response = await fetch(`${node.url}${path}`, init);
      expect(response.status, path).to.equal(400);
      const error = await errorOf(response);
      expect(error.code, path).to.equal('INVALID_ARGUMENT');
      expect(error.message, `${path} ${typeof init.body === 'string' ? init.body : ''}`).to.match(
        message,
      );
    }
    const range = (await (await fetch(`${node.url}/v1/kv?prefix=a`)).json()) as {
      items: unknown[];
    };
    expect(range.items).to.deep.equal([]);
  });

  it(`answers ${FUZZ_REQUESTS} malformed requests (seed ${FUZZ_SEED}) each with a typed answer, and stays up`, async function () {
    this.timeout(600_000);
    const requests = malformedRequests(FUZZ_REQUESTS, FUZZ_SEED);
    const untyped: string[] = [];
    const statuses = new Map<number, number>();
    const concurrency = 32;
    let next = 0;
    async function worker(): Promise<void> {
      while (next < requests.length) {
        const request = requests[next++] as string;
        // The fixture's headers and request timeouts (1 s, 1.5 s) answer a request cut short.
        const answer = await exchange(node.port, request, 5_000);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        if (answer.status === 0 || !answer.complete) {
          untyped.push(`no complete answer to ${JSON.stringify(request)}`);
          continue;
        }
        // An answer to HEAD has no body (RFC 9110 section 9.3.2): its status is the answer.
        if (answer.status < 400 || request.startsWith('HEAD ')) continue;
        let code: unknown;
        try {
          code = (JSON.parse(answer.body) as { error?: { code?: unknown } }).error?.code;
        } catch {
          code = undefined;
        }
        if (
          typeof code !== 'string' ||
          STATUS_BY_CODE[code as keyof typeof STATUS_BY_CODE] !== answer.status
        ) {
          untyped.push(
            `${answer.status} ${JSON.stringify(answer.body)} to ${JSON.stringify(request)}`,
          );
        }
      }
    }
    await Promise.all(Array.from({ length: concurrency }, () => worker()));
    // The mutations reach many refusals, not one: parse errors, routing, schemas, timeouts.
    expect([...statuses.keys()].filter((status) => status >= 400).length).to.be.at.least(5);
    expect(untyped.slice(0, 20), `${untyped.length} untyped answers`).to.deep.equal([]);
    expect((await fetch(`${node.url}/healthz`)).status).to.equal(200);
  });
});
