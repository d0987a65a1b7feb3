/**
 * Bare Fastify 5 baseline for the benchmark harness: what the framework alone costs for the service's cases.
 *
 *   PORT=0 node --import tsx bench/baseline-server.ts      # prints {"port": N} on stdout once listening
 *
 * GET /hello -> {"hello":"world"}; POST /echo: binary echo (parseAs buffer, sent back); POST /echo-json: Fastify's
 * default JSON parser and reply.send(body) (JSON.parse + JSON.stringify).
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false, bodyLimit: 256 * 1024 * 1024 });

app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) => {
  done(null, body);
});

app.get('/hello', async () => ({ hello: 'world' }));

app.post('/echo', async (request, reply) => reply.type('application/octet-stream').send(request.body as Buffer));

app.post('/echo-json', async (request, reply) => reply.send(request.body));

const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.stdout.write(`${JSON.stringify({ port: Number(new URL(address).port) })}\n`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void app.close().then(() => process.exit(0));
  });
}
