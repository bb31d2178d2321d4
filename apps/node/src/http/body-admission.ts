import type { IncomingMessage } from 'node:http';
import { errorCodes } from 'fastify';
import type { FastifyInstance } from 'fastify';

/** What the server asks of body admission after it is registered. */
export interface BodyAdmission {
  /**
   * True while `request` sent `Expect: 100-continue` and was not told to go on: its client holds
   * the body back, so an answer needs no drain (the connection closes after it).
   */
  awaitsContinue(request: IncomingMessage): boolean;
}

/**
 * Decides, once a request is routed and before any of its body is read, whether the body may come:
 *
 * - a declared `Content-Length` over the route's `bodyLimit` is refused at once, on every route
 *   and method (fastify itself reads no body for GET and HEAD, so it would not check those), with
 *   the same error as a body counted over the limit (the error handler answers it);
 * - `Expect: 100-continue` is answered with `100 Continue` only for a body the route will take:
 *   Node's default sends it before any route runs, and the client then uploads a body that is
 *   refused. Over the limit, the client gets the final answer instead and never sends the body.
 */
export function registerBodyAdmission(app: FastifyInstance): BodyAdmission {
  const awaitingContinue = new WeakSet<IncomingMessage>();
  // With a listener, Node leaves `100 Continue` to us and emits this instead of 'request'.
  app.server.on('checkContinue', (request: IncomingMessage, response) => {
    awaitingContinue.add(request);
    app.server.emit('request', request, response);
  });

  app.addHook('preParsing', async (request, reply, payload) => {
    const declaredBytes = Number(request.headers['content-length']);
    if (declaredBytes > request.routeOptions.bodyLimit) {
      throw new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
    }
    if (awaitingContinue.delete(request.raw)) reply.raw.writeContinue();
    return payload;
  });

  return { awaitsContinue: (request) => awaitingContinue.has(request) };
}
