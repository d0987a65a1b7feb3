/**
 * The floor under every framework, for the benchmark harness: Node's own HTTP server with nothing on top.
 *
 *   PORT=0 node --import tsx bench/node-http-baseline.ts   # prints {"port": N} on stdout once listening
 *
 * GET /hello -> {"hello":"world"} (the harness's readiness check). POST /echo-json: the body gathered from 'data'
 * events, JSON.parse, JSON.stringify, sent back. No routing, hooks, logging or validation: what reading and
 * answering a small JSON body costs before any framework does anything. The JSON 16 target is a ratio to Fastify's
 * hello-world; this row shows how much of it the HTTP exchange alone already takes.
 */
import { createServer } from 'node:http';

const HELLO = '{"hello":"world"}';

const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/hello') {
    response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': HELLO.length });
    response.end(HELLO);
    return;
  }
  if (request.method !== 'POST' || request.url !== '/echo-json') {
    response.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    let reply: string;
    try {
      reply = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    } catch {
      response.writeHead(400).end();
      return;
    }
    response.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(reply),
    });
    response.end(reply);
  });
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => server.close(() => process.exit(0)));
}
