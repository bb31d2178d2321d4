import type { FastifyInstance, FastifyReply } from 'fastify';
import { HttpError } from '../http/errors.js';
import { dashboardAsset } from './dashboard-assets.js';

/**
 * Headers of every dashboard file: a content security policy that allows this origin only (no
 * inline script or style, no other host, no framing), no sniffing, no referrer, and revalidation
 * so a node upgraded in place serves its own page.
 */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/**
 * `GET /ui` (the dashboard page) and `GET /ui/:asset` (its script and style sheet). They hold no
 * data, so they need no token (auth.ts lists them as public); the page asks for the token and
 * sends it with its own requests.
 */
export function registerDashboardRoutes(app: FastifyInstance): void {
  app.get('/ui', async (_request, reply) => send(reply, 'index.html'));
  app.get('/ui/:asset', async (request, reply) =>
    send(reply, (request.params as { asset: string }).asset),
  );
}

async function send(reply: FastifyReply, name: string): Promise<FastifyReply> {
  const asset = await dashboardAsset(name);
  if (asset === undefined) throw new HttpError('NOT_FOUND', `no dashboard file ${name}`);
  return reply.headers(DASHBOARD_HEADERS).type(asset.contentType).send(asset.body);
}
