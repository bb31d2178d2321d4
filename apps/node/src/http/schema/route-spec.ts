import type { FastifySchema } from 'fastify';
import type { HttpErrorCode } from '../errors.js';
import type { JsonSchema, QueryParameter } from './parameters.js';

/** An HTTP method the API uses. */
export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'DELETE';

/** A request header a route reads. */
export interface HeaderSpec {
  readonly name: string;
  readonly description: string;
  readonly schema: JsonSchema;
}

/** The body a route takes. */
export interface RequestBodySpec {
  readonly contentType: string;
  readonly description: string;
  /** The JSON Schema of a JSON body, checked by the server; undefined for raw bytes. */
  readonly schema?: JsonSchema;
}

/** The successful answer of a route. */
export interface ResponseSpec {
  readonly status: number;
  readonly contentType: string;
  readonly description: string;
  readonly schema?: JsonSchema;
  readonly headers?: readonly HeaderSpec[];
}

/**
 * A runnable example: a shell command (curl against `http://127.0.0.1:7070`) and what it prints,
 * where `...` stands for text that differs from run to run. The reference shows it, and the docs
 * test runs every example in order against a fresh standalone node.
 */
export interface RouteExample {
  readonly command: string;
  readonly output: string;
}

/**
 * One route of the HTTP API, described once: the server validates requests with it, the OpenAPI
 * document and docs/API.md are generated from it, and the 405/unknown-parameter answers read it.
 */
export interface RouteSpec {
  readonly method: HttpMethod;
  /** The path pattern (`/v1/kv/:key`). */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
  readonly tag: 'keys' | 'ranges' | 'log' | 'node' | 'cluster';
  readonly pathParameters?: readonly { readonly name: string; readonly description: string }[];
  readonly query: readonly QueryParameter[];
  readonly headers?: readonly HeaderSpec[];
  readonly body?: RequestBodySpec;
  readonly response: ResponseSpec;
  /** Error codes this route answers with (besides those every route may: see {@link COMMON_ERRORS}). */
  readonly errors: readonly HttpErrorCode[];
  /** Served without the bearer token. */
  readonly public?: boolean;
  /** Node-to-node, not for applications (documented, marked `x-internal`). */
  readonly internal?: boolean;
  readonly example: RouteExample;
}

/** Codes any route may answer: bad input, auth, a closing node, a bug. */
export const COMMON_ERRORS: readonly HttpErrorCode[] = [
  'INVALID_ARGUMENT',
  'UNAUTHENTICATED',
  'REQUEST_TIMEOUT',
  'HEADERS_TOO_LARGE',
  'CLOSED',
  'INTERNAL',
];

/**
 * The schema fastify validates a request against: the query string (no parameter outside the
 * route's list, each a string of the right shape) and a JSON body when the route has one.
 */
export function fastifySchemaOf(spec: RouteSpec): FastifySchema {
  const properties: Record<string, JsonSchema> = {};
  for (const parameter of spec.query) properties[parameter.name] = parameter.validator;
  return {
    querystring: { type: 'object', properties, additionalProperties: false },
    ...(spec.body?.schema ? { body: spec.body.schema } : {}),
  };
}

/** A route's method and path as one label (`GET /v1/kv/:key`). */
export function routeLabel(spec: Pick<RouteSpec, 'method' | 'path'>): string {
  return `${spec.method} ${spec.path}`;
}
