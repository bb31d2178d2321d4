import { STATUS_CODES } from 'node:http';
import { STATUS_BY_CODE } from '../errors.js';
import type { HttpErrorCode } from '../errors.js';
import { COMMON_ERRORS } from '../schema/route-spec.js';
import type { RouteSpec } from '../schema/route-spec.js';
import type { JsonSchema } from '../schema/parameters.js';

/** What the document says about the API as a whole. */
export interface OpenApiInfo {
  readonly version: string;
}

/** Tag descriptions, in the reference's order. */
export const TAGS: readonly { readonly name: RouteSpec['tag']; readonly description: string }[] = [
  { name: 'keys', description: 'Single keys: write, read, delete, history.' },
  { name: 'ranges', description: 'Atomic batches, ranges and range deletes.' },
  { name: 'log', description: 'The event log and backups.' },
  { name: 'node', description: 'Health, status, metrics, this document and the dashboard.' },
  { name: 'cluster', description: 'Routes that act on the cluster.' },
];

/** The error body every refusal carries. */
const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: Object.keys(STATUS_BY_CODE) },
        message: { type: 'string' },
      },
      additionalProperties: true,
    },
  },
};

/** `/v1/kv/:key` -> `/v1/kv/{key}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z]+)/g, '{$1}');
}

/** The error codes a route answers with, its own and the common ones, in status order. */
export function errorCodesOf(spec: RouteSpec): HttpErrorCode[] {
  const codes = new Set<HttpErrorCode>([...COMMON_ERRORS, ...spec.errors]);
  if (spec.public) codes.delete('UNAUTHENTICATED');
  return [...codes].sort((a, b) => STATUS_BY_CODE[a] - STATUS_BY_CODE[b] || a.localeCompare(b));
}

/**
 * The OpenAPI 3.1 document of the API, built from the same route specs the server validates
 * requests with. Error answers are grouped by status, each listing its codes (`x-error-codes`);
 * `x-order` is the route's place in the reference, whose examples build on one another.
 */
export function openApiDocument(specs: readonly RouteSpec[], info: OpenApiInfo): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  specs.forEach((spec, index) => {
    const path = openApiPath(spec.path);
    const item = (paths[path] ??= {});
    item[spec.method.toLowerCase()] = { ...operation(spec), 'x-order': index };
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'Strata HTTP API',
      version: info.version,
      description:
        'An event-sourced key-value store: every write is an event with a seqno. Keys are percent-encoded ' +
        'bytes in paths; errors are `{"error":{"code","message"}}` with a stable code.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    tags: TAGS,
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'Needed when the node runs with `--token`.',
        },
      },
      schemas: { Error: ERROR_SCHEMA },
    },
  };
}

function operation(spec: RouteSpec): Record<string, unknown> {
  const parameters = [
    ...(spec.pathParameters ?? []).map((parameter) => ({
      name: parameter.name,
      in: 'path',
      required: true,
      description: parameter.description,
      schema: { type: 'string' },
    })),
    ...spec.query.map((parameter) => ({
      name: parameter.name,
      in: 'query',
      required: false,
      description: parameter.description,
      schema: parameter.documented,
    })),
    ...(spec.headers ?? []).map((header) => ({
      name: header.name,
      in: 'header',
      required: false,
      description: header.description,
      schema: header.schema,
    })),
  ];
  const response = spec.response;
  const responses: Record<string, unknown> = {
    [String(response.status)]: {
      description: response.description,
      ...(response.headers
        ? {
            headers: Object.fromEntries(
              response.headers.map((header) => [
                header.name,
                { description: header.description, schema: header.schema },
              ]),
            ),
          }
        : {}),
      content: { [response.contentType]: response.schema ? { schema: response.schema } : {} },
    },
  };
  const byStatus = new Map<number, HttpErrorCode[]>();
  for (const code of errorCodesOf(spec)) {
    const status = STATUS_BY_CODE[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of byStatus) {
    responses[String(status)] = {
      description: `${STATUS_CODES[status] ?? 'Error'}: ${codes.join(', ')}`,
      'x-error-codes': codes,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  }
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    description: spec.description,
    tags: [spec.tag],
    ...(spec.public ? { security: [] } : {}),
    ...(spec.internal ? { 'x-internal': true } : {}),
    parameters,
    ...(spec.body
      ? {
          requestBody: {
            required: true,
            description: spec.body.description,
            content: {
              [spec.body.contentType]: spec.body.schema ? { schema: spec.body.schema } : {},
            },
          },
        }
      : {}),
    responses,
    'x-codeSamples': [
      {
        lang: 'Shell',
        label: 'curl',
        source: spec.example.command,
        'x-output': spec.example.output,
      },
    ],
  };
}
