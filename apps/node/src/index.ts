/**
 * @strata/node: the Strata node. The HTTP API over a store (`createHttpServer`), a whole node
 * (`startNode`: store + API + metrics), the read-only tools behind `strata replay`, `inspect` and
 * `verify`, and the `strata` CLI program.
 *
 * @packageDocumentation
 */
export { startNode } from './node.js';
export type { NodeOptions, StrataNode } from './node.js';
export { createHttpServer } from './http/server.js';
export type { HttpApiOptions } from './http/context.js';
export { STATUS_BY_CODE, toHttpError } from './http/errors.js';
export type { ErrorBody, HttpErrorCode } from './http/errors.js';
export { NodeMetrics } from './metrics/node-metrics.js';
export { LogReader, listLogFiles } from './offline/log-reader.js';
export type { LogFile, LogReadOptions, LogReadRecord, TornTail } from './offline/log-reader.js';
export { readTreeManifest } from './offline/tree-manifest.js';
export type { ManifestSegment, TreeManifest } from './offline/tree-manifest.js';
export { createProgram } from './cli/program.js';
