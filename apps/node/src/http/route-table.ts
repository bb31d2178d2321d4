import { HttpError } from './errors.js';
import { ROUTE_SPECS } from './schema/route-specs.js';
import type { HttpMethod } from './schema/route-spec.js';

/** One route of the HTTP API: its method, path pattern and the query parameters it takes. */
export interface RouteEntry {
  readonly method: HttpMethod;
  readonly path: string;
  readonly query: readonly string[];
}

/**
 * Every route and the query parameters it understands, read from the route specs (the server
 * refuses any other parameter through the route's schema). A known path with another method
 * answers 405 with `Allow`.
 */
export const ROUTES: readonly RouteEntry[] = ROUTE_SPECS.map((spec) => ({
  method: spec.method,
  path: spec.path,
  query: spec.query.map((parameter) => parameter.name),
}));

/** The route pattern a request path belongs to, whatever its method (`/v1/kv/a%2Fb` -> `/v1/kv/:key`). */
function patternOf(path: string): string | undefined {
  if (path.startsWith('/v1/kv/') && path.length > '/v1/kv/'.length) return '/v1/kv/:key';
  if (path.startsWith('/v1/history/') && path.length > '/v1/history/'.length) {
    return '/v1/history/:key';
  }
  if (path.startsWith('/ui/') && path.length > '/ui/'.length) return '/ui/:asset';
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
