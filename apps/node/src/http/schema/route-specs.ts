import { KEY_ROUTE_SPECS } from './key-route-specs.js';
import { NODE_ROUTE_SPECS } from './node-route-specs.js';
import { RANGE_ROUTE_SPECS } from './range-route-specs.js';
import { routeLabel } from './route-spec.js';
import type { RouteSpec } from './route-spec.js';

/**
 * Every route of the HTTP API, in the order the reference documents them (and runs their
 * examples: each builds on the ones before it).
 */
export const ROUTE_SPECS: readonly RouteSpec[] = [
  ...KEY_ROUTE_SPECS,
  ...RANGE_ROUTE_SPECS,
  ...NODE_ROUTE_SPECS,
];

const SPEC_BY_LABEL = new Map(ROUTE_SPECS.map((spec) => [routeLabel(spec), spec]));

/** The spec of `method path` (a route pattern such as `/v1/kv/:key`), if the API has it. */
export function routeSpecOf(method: string, path: string): RouteSpec | undefined {
  return SPEC_BY_LABEL.get(`${method} ${path}`);
}
