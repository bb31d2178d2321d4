import type { FastifyRequest } from 'fastify';
import { HttpError, invalidArgument } from './errors.js';

/** One route of the HTTP API: its method, path pattern and the query parameters it takes. */
interface RouteSpec {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly path: string;
  readonly query: readonly string[];
}

/**
 * Every route and the query parameters it understands: the one list the API reference documents.
 * A parameter a route does not take is refused (400) rather than ignored, so a typo such as
 * `?limt=10` or `?form=5` cannot silently change what a request does; a known path with another
 * method answers 405 with `Allow`.
 */
export const ROUTES: readonly RouteSpec[] = [
  { method: 'GET', path: '/healthz', query: [] },
  { method: 'GET', path: '/metrics', query: [] },
  { method: 'GET', path: '/v1/status', query: [] },
  { method: 'GET', path: '/v1/stats', query: [] },
  { method: 'GET', path: '/ui', query: [] },
  { method: 'GET', path: '/ui/:asset', query: [] },
  { method: 'PUT', path: '/v1/kv/:key', query: ['ifSeqno', 'ttlMs', 'acks'] },
  { method: 'DELETE', path: '/v1/kv/:key', query: ['ifSeqno', 'acks'] },
  { method: 'GET', path: '/v1/kv/:key', query: ['at', 'minSeqno', 'timeoutMs'] },
  { method: 'GET', path: '/v1/history/:key', query: ['limit', 'before', 'encoding'] },
  { method: 'POST', path: '/v1/batch', query: ['acks'] },
  {
    method: 'GET',
    path: '/v1/kv',
    query: ['prefix', 'start', 'end', 'limit', 'reverse', 'at', 'cursor', 'encoding'],
  },
  { method: 'DELETE', path: '/v1/kv', query: ['prefix', 'start', 'end', 'encoding', 'acks'] },
  { method: 'GET', path: '/v1/events', query: ['from', 'to', 'prefix', 'follow', 'encoding'] },
  { method: 'GET', path: '/v1/backup', query: [] },
  { method: 'GET', path: '/v1/internal/checkpoint', query: [] },
  { method: 'POST', path: '/v1/cluster/promote', query: [] },
];

const QUERY_BY_ROUTE = new Map(
  ROUTES.map((route) => [`${route.method} ${route.path}`, new Set(route.query)]),
);

/**
 * Refuses query parameters the matched route does not take: `INVALID_ARGUMENT` naming them and
 * the ones it takes. Runs after routing (fastify's `preValidation`).
 */
export function checkQueryParameters(request: FastifyRequest): void {
  const allowed = QUERY_BY_ROUTE.get(`${request.method} ${request.routeOptions.url ?? ''}`);
  if (allowed === undefined) return;
  const unknown = Object.keys((request.query as Record<string, unknown> | undefined) ?? {}).filter(
    (name) => !allowed.has(name),
  );
  if (unknown.length === 0) return;
  throw invalidArgument(
    `unknown query parameter${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} for ${request.method} ${request.routeOptions.url ?? ''}; it takes ${
      allowed.size === 0 ? 'none' : [...allowed].join(', ')
    }`,
  );
}

/** The route pattern a request path belongs to, whatever its method (`/v1/kv/a%2Fb` -> `/v1/kv/:key`). */
function patternOf(path: string): string | undefined {
  if (path.startsWith('/v1/kv/') && path.length > '/v1/kv/'.length) return '/v1/kv/:key';
  if (path.startsWith('/v1/history/') && path.length > '/v1/history/'.length) {
    return '/v1/history/:key';
  }
  return ROUTES.some((route) => route.path === path) ? path : undefined;
}

/**
 * The answer for a request no route matched: 405 `METHOD_NOT_ALLOWED` (with the methods the path
 * takes) when the path exists with other methods, else 404 `NOT_FOUND`. `path` is the request's
 * own path, before any internal rewrite.
 */
export function unmatchedRoute(method: string, path: string): { error: HttpError; allow?: string } {
  const pattern = patternOf(path);
  const methods = ROUTES.filter((route) => route.path === pattern).map((route) => route.method);
  if (pattern !== undefined && methods.length > 0 && !methods.includes(method as never)) {
    return {
      error: new HttpError(
        'METHOD_NOT_ALLOWED',
        `${method} is not allowed on ${pattern}; use ${methods.join(', ')}`,
      ),
      allow: methods.join(', '),
    };
  }
  return { error: new HttpError('NOT_FOUND', `no route ${method} ${path}`) };
}
