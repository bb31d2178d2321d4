import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import cors from '@fastify/cors';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify';
import { pino } from 'pino';
import type { Store } from '@strata/store';
import { PUBLIC_PATHS, checkBearerToken, tokenDigest } from './auth.js';
import { registerBackupRoute } from './backup-route.js';
import { registerBatchRoute } from './batch-route.js';
import { registerBodyAdmission } from './body-admission.js';
import { DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_VALUE_BYTES, MAX_KEY_BYTES } from './context.js';
import type { HttpApiOptions, RouteContext } from './context.js';
import {
  clientErrorAnswer,
  expectationFailed,
  invalidArgument,
  writeTypedAnswer,
  isBodyTooLargeError,
  notLeaderLocation,
  rawHttpAnswer,
  toHttpError,
} from './errors.js';
import type { HttpErrorCode } from './errors.js';
import { errorLogLevel } from './error-log-level.js';
import { LINGER_MIN_DRAIN_BYTES, LingeringClose } from './lingering-close.js';
import { registerEventsRoute } from './events-route.js';
import { originalPath, originalUrl, registerKvRoutes, rewriteKeyUrl } from './kv-routes.js';
import { unmatchedRoute } from './route-table.js';
import { parseJsonBody } from './json-body.js';
import { openApiDocument } from './reference/openapi-document.js';
import { fastifySchemaOf } from './schema/route-spec.js';
import { ROUTE_SPECS, routeSpecOf } from './schema/route-specs.js';
import { isValidationFailure, validationError } from './schema/validation-error.js';
import { NODE_VERSION } from './status-routes.js';
import { registerRangeDeleteRoute, registerRangeRoute } from './range-route.js';
import { registerStatusRoutes } from './status-routes.js';
import { registerClusterRoutes } from './cluster-routes.js';
import { registerDashboardRoutes } from '../ui/dashboard-routes.js';
import { registerStatsRoute } from '../ui/stats-route.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What an over-limit body means on this route. */
    tooLargeCode?: HttpErrorCode;
  }
}

/**
 * Builds the HTTP API (fastify) over an open store, without listening: the caller calls
 * `listen`. Request bodies are bytes for every content type, counted while they stream (an
 * oversized body is refused before it is buffered); the URL (and so a path key) may be up to
 * 3 x 64 KiB + 16 KiB, the size of the longest key percent-encoded plus headers.
 *
 * Every refusal is a typed answer `{"error":{"code","message"}}` that the client gets to read,
 * including those decided before routing (headers too large, timeouts, malformed requests): an
 * answer that ends the connection while the client may still be sending (a body over its limit, a
 * parse error) is followed by a lingering close ({@link LingeringClose}), never by a reset.
 *
 * `store` may be a function returning the current store (a cluster node replaces its store after
 * a cut-back or a bootstrap).
 *
 * @example
 * ```ts
 * const store = await Store.open('./data');
 * const app = createHttpServer(store, { nodeId: 'n1' });
 * await app.listen({ host: '127.0.0.1', port: 7070 });
 * ```
 */
export function createHttpServer(
  store: Store | (() => Store),
  apiOptions: HttpApiOptions,
): FastifyInstance {
  const currentStore = typeof store === 'function' ? store : () => store;
  const requestTimeoutMs = apiOptions.requestTimeoutMs ?? 30_000;
  const headersTimeoutMs = Math.min(apiOptions.headersTimeoutMs ?? 10_000, requestTimeoutMs);
  const context: RouteContext = {
    get store() {
      return currentStore();
    },
    cluster: apiOptions.cluster,
    options: {
      nodeId: apiOptions.nodeId,
      token: apiOptions.token,
      maxValueBytes: apiOptions.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES,
      maxBatchBytes: apiOptions.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
      requestTimeoutMs,
      headersTimeoutMs,
      maxWaitMs: apiOptions.maxWaitMs ?? 5_000,
      maxRangeLimit: apiOptions.maxRangeLimit ?? 10_000,
    },
    metrics: apiOptions.metrics,
    streams: new Set(),
    startedAtMs: Date.now(),
  };
  // A child of the node's logger: its level is the HTTP layer's own (the node quiets it while
  // fastify announces its address, which the node's startup line says instead).
  const logger: FastifyBaseLogger = (apiOptions.logger ?? pino({ level: 'silent' })).child({});
  const lingering = new LingeringClose();
  /** The last request each connection sent, with its response (for parser errors). */
  const exchanges = new WeakMap<Socket, { request: IncomingMessage; response: ServerResponse }>();
  const app = Fastify({
    loggerInstance: logger,
    // Requests are logged at debug level by the onResponse hook below, not at info per request.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: context.options.maxValueBytes,
    requestTimeout: requestTimeoutMs,
    connectionTimeout: 0,
    keepAliveTimeout: 5_000,
    rewriteUrl: rewriteKeyUrl,
    http: {
      // A missing Host is refused below with a typed answer (Node's own 400 has no body).
      requireHostHeader: false,
      maxHeaderSize: 3 * MAX_KEY_BYTES + 16 * 1024,
      headersTimeout: headersTimeoutMs,
      requestTimeout: requestTimeoutMs,
      // How often Node checks the two timeouts above (its default, 30 s, would let a slow
      // client hold a socket far longer than the timeout says).
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(headersTimeoutMs / 2))),
    },
    clientErrorHandler: (error, socket) => answerClientError(error, socket),
    // Errors fastify's router raises before routing (a path with a malformed percent escape):
    // typed, like every other refusal, instead of fastify's own body.
    frameworkErrors: (error, request, reply) => {
      const { statusCode, body } = toHttpError(
        error.code === 'FST_ERR_BAD_URL'
          ? invalidArgument(
              `the path ${JSON.stringify(request.url)} has a malformed percent escape`,
            )
          : error,
      );
      void (reply as unknown as FastifyReply).code(statusCode).send(body);
    },
    // Requests are checked against the route specs' schemas exactly as written: nothing is
    // coerced, defaulted or silently dropped (fastify's defaults would strip an unknown field).
    ajv: {
      customOptions: {
        removeAdditional: false,
        coerceTypes: false,
        useDefaults: false,
        allErrors: false,
        discriminator: true,
      },
    },
  });
  // Every route takes its schema from its spec, the one description the API reference is
  // generated from; a route without a spec is a bug, found at startup.
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      // HEAD mirrors GET; OPTIONS is the CORS preflight, which takes no parameters.
      if (method === 'HEAD' || method === 'OPTIONS') continue;
      const spec = routeSpecOf(method, route.url);
      if (spec === undefined) throw new Error(`route ${method} ${route.url} has no spec`);
      route.schema = fastifySchemaOf(spec);
    }
  });
  app.server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    exchanges.set(request.socket, { request, response });
  });
  const admission = registerBodyAdmission(app);
  // With a listener, Node lets us answer an unmet `Expect` (its own 417 has no body).
  app.server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    writeTypedAnswer(response, expectationFailed(request.headers.expect));
  });

  /**
   * Errors the HTTP parser raises (and its timeouts), before or outside any route. Fastify's own
   * handler answers with an untyped body, and even after an answer already went out; this one
   * answers typed, once.
   */
  function answerClientError(error: Error & { code?: string }, socket: Socket): void {
    if (lingering.isLingering(socket)) {
      // Its own bounds close it: the request timeout no longer applies, and after a parse error
      // every further chunk lands here.
      lingering.noteBytesRead(socket);
      return;
    }
    if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable) {
      socket.destroy();
      return;
    }
    const answerBytes = rawHttpAnswer(clientErrorAnswer(error));
    const exchange = exchanges.get(socket);
    if (exchange !== undefined && !exchange.response.writableFinished) {
      // A response is still due on this connection (its request's body timed out or is
      // malformed, or the error is in a request behind it): the connection ends now, with this
      // answer only if that response has not started (one cannot go in the middle of another).
      if (exchange.response.headersSent) socket.destroy();
      else socket.end(answerBytes, () => socket.destroy());
      return;
    }
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      // Headers that did not arrive in time: the client is not sending, nothing is left to drain.
      socket.end(answerBytes, () => socket.destroy());
      return;
    }
    // A request line or headers the parser refused (too large, malformed): the client may still
    // be sending the rest of them.
    void lingering.answerConnection(socket, answerBytes, LINGER_MIN_DRAIN_BYTES);
  }

  // Every body is bytes, whatever its content type (or none); routes decode what they need.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  const expectedDigest =
    context.options.token === undefined ? undefined : tokenDigest(context.options.token);
  app.addHook('onRequest', (request, _reply, done) => {
    // HTTP/1.1 requires Host (RFC 9112 section 3.2); HTTP/1.0 clients may omit it.
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      return done(invalidArgument('an HTTP/1.1 request needs a Host header'));
    }
    // A CORS preflight never carries credentials (the browser sends them with the request itself).
    if (expectedDigest === undefined || request.method === 'OPTIONS') return done();
    const path = (request.raw.url ?? '').split('?', 1)[0] ?? '';
    if (PUBLIC_PATHS.has(path)) return done();
    try {
      checkBearerToken(request.headers.authorization, expectedDigest);
      done();
    } catch (error) {
      done(error as Error);
    }
  });

  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { method: request.method, route };
    context.metrics?.httpRequests.inc({ ...labels, status: String(reply.statusCode) });
    context.metrics?.httpDuration.observe(labels, reply.elapsedTime / 1000);
    request.log.debug(
      { method: request.method, route, status: reply.statusCode, ms: reply.elapsedTime },
      'request',
    );
    done();
  });

  app.setErrorHandler(async (thrown, request, reply) => {
    const spec = routeSpecOf(request.method, request.routeOptions.url ?? '');
    const error =
      isValidationFailure(thrown) && spec !== undefined
        ? validationError(thrown, spec, (request.query ?? {}) as Record<string, unknown>)
        : thrown;
    const limitBytes = request.routeOptions.bodyLimit;
    const answer = toHttpError(error, request.routeOptions.config?.tooLargeCode, limitBytes);
    const { statusCode, body } = answer;
    const level = errorLogLevel(body.error.code);
    if (level === 'error')
      request.log.error({ err: error, code: body.error.code }, 'request failed');
    else request.log[level]({ code: body.error.code, statusCode }, body.error.message);
    if (
      isBodyTooLargeError(error) &&
      !request.raw.complete &&
      !admission.awaitsContinue(request.raw)
    ) {
      // The client is still uploading what was refused: answer, then drain before closing.
      reply.hijack();
      const maxDrainBytes = Math.max(limitBytes, LINGER_MIN_DRAIN_BYTES);
      void lingering
        .answerRequest(request.raw, reply.raw, answer, maxDrainBytes)
        .then((result) => request.log.debug({ ...result, statusCode }, 'refused body drained'));
      return;
    }
    if (statusCode === 401) void reply.header('www-authenticate', 'Bearer');
    // A 421 that names the leader says where to send the same request.
    const location = notLeaderLocation(body, originalUrl(request.raw));
    if (location !== undefined) void reply.header('location', location);
    return reply.code(statusCode).send(body);
  });

  // A JSON body is parsed here (bodies arrive as bytes) so that its route's schema checks it.
  app.addHook('preValidation', (request, _reply, done) => {
    if (routeSpecOf(request.method, request.routeOptions.url ?? '')?.body?.schema === undefined) {
      return done();
    }
    try {
      request.body = parseJsonBody(request.body);
      done();
    } catch (error) {
      done(error as Error);
    }
  });

  app.setNotFoundHandler(async (request, reply) => {
    const { error, allow } = unmatchedRoute(request.method, originalPath(request.raw));
    if (allow !== undefined) void reply.header('allow', allow);
    const { statusCode, body } = toHttpError(error);
    return reply.code(statusCode).send(body);
  });

  // Open event streams would keep close() waiting forever: end them first.
  app.addHook('preClose', (done) => {
    for (const controller of context.streams) controller.abort();
    done();
  });

  if (apiOptions.corsOrigins !== undefined && apiOptions.corsOrigins.length > 0) {
    const origins = apiOptions.corsOrigins;
    void app.register(cors, {
      origin: origins.includes('*') ? '*' : [...origins],
      methods: ['GET', 'PUT', 'POST', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'if-match', 'if-none-match'],
      exposedHeaders: ['etag', 'x-seqno', 'x-expires-at-ms', 'location'],
      maxAge: 600,
    });
  }

  registerStatusRoutes(app, context);
  registerStatsRoute(app, context);
  registerDashboardRoutes(app);
  registerKvRoutes(app, context);
  registerBatchRoute(app, context);
  registerRangeRoute(app, context);
  registerRangeDeleteRoute(app, context);
  registerEventsRoute(app, context);
  registerBackupRoute(app, context);
  registerClusterRoutes(app, context);
  const document = openApiDocument(ROUTE_SPECS, { version: NODE_VERSION });
  app.get('/v1/openapi.json', async (_request, reply) => reply.send(document));
  return app;
}
