// The in-memory ceiling of the HTTP benchmark: a tiny fastify 5 server, in its own process, that
// answers GET /v1/kv/:key with a constant 100-byte body and PUT /v1/kv/:key by reading the body
// and answering a small JSON, the shape of Strata's answers, without touching any store.
// `node --import tsx fastify-constant.ts <port>`; it serves until SIGTERM.
import Fastify from 'fastify';
import { VALUE_BYTES } from './data.js';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) throw new Error('usage: fastify-constant.ts <port>');

const constant = Buffer.alloc(VALUE_BYTES, 'v');
let seqno = 0;

const app = Fastify({ logger: false });
// As in Strata's server: every body is bytes, whatever its content type.
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

app.get('/healthz', async (_request, reply) => reply.send({ status: 'ok' }));
app.get('/v1/kv/:key', async (_request, reply) =>
  reply.header('x-seqno', '1').header('content-type', 'application/octet-stream').send(constant),
);
app.put('/v1/kv/:key', async (request, reply) => {
  const length = Buffer.isBuffer(request.body) ? request.body.length : 0;
  seqno += length > 0 ? 1 : 0;
  return reply.send({ seqno, epoch: 1 });
});

await app.listen({ host: '127.0.0.1', port });
process.once('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
