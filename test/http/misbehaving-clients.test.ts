/**
 * Clients that hang up, stall, flood or disappear must cost only themselves: every slot, byte and buffer a request
 * takes comes back on every path, and well-behaved requests keep their exact answers. Real sockets throughout.
 */
import { once } from 'node:events';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import t, { type Test } from 'tap';
import { startApp } from '../helpers.js';
import { genInput, referenceDropout } from '../reference.js';
import { startServer } from '../server-process.js';

const MiB = 1024 * 1024;

async function listen(t: Test, env: Record<string, string>): Promise<{ app: FastifyInstance; port: number }> {
  const app = await startApp(t, env);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { app, port: address.port };
}

function head(path: string, headers: Record<string, string | number>): string {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines.join('')}\r\n`;
}

/** Sends a whole request, reads `readBytes` of the reply, then closes the socket. */
function hangUpDuringReply(port: number, request: Buffer, readBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let got = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= readBytes) {
        socket.destroy();
        resolve(got.subarray(0, 12).toString('latin1'));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(got.subarray(0, 12).toString('latin1')));
  });
}

/** Declares `declared` bytes of body, sends `sent` of them, then closes the socket. */
async function abortUpload(port: number, path: string, declared: number, sent: number): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(head(path, { 'content-type': 'application/octet-stream', 'content-length': declared }));
  await new Promise<void>((resolve) => socket.write(Buffer.alloc(sent, 1), () => resolve()));
  socket.destroy();
  await once(socket, 'close');
}

/** Polls until nothing is held any more (the last holds end as sockets close). */
async function settled(app: FastifyInstance): Promise<{ slots: number; bytes: number; leases: number }> {
  for (let i = 0; i < 100 && app.admission.leases > 0; i++) await new Promise((r) => setTimeout(r, 50));
  return { slots: app.admission.slots, bytes: app.admission.bytes, leases: app.admission.leases };
}

async function exactBinary(port: number, n: number, seed: number): Promise<{ status: number; exact: boolean }> {
  const x = new Float32Array(genInput(n));
  const res = await fetch(`http://127.0.0.1:${port}/v1/dropout?p=0.5&seed=${seed}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.from(x.buffer),
  });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, exact: body.equals(Buffer.from(referenceDropout(x, 0.5, BigInt(seed)).out.buffer)) };
}

t.test('a client that hangs up during a large reply gives back its slot, bytes and buffers', async (t) => {
  const { app, port } = await listen(t, { MAX_QUEUE: '8' });
  const body = Buffer.from(new Float32Array(genInput(MiB)).buffer);
  const binary = Buffer.concat([
    Buffer.from(
      head('/v1/dropout?p=0.5&seed=1', { 'content-type': 'application/octet-stream', 'content-length': body.length }),
    ),
    body,
  ]);
  const json = Buffer.concat([
    Buffer.from(
      head('/v1/dropout?p=0.5&seed=1', {
        'content-type': 'application/octet-stream',
        accept: 'application/json',
        'content-length': body.length,
      }),
    ),
    body,
  ]);
  const v2Header = Buffer.from(
    JSON.stringify({
      inputs: [{ name: 'input', datatype: 'FP32', shape: [MiB], parameters: { binary_data_size: body.length } }],
      outputs: [{ name: 'output', parameters: { binary_data: true } }],
      parameters: { p: 0.5, seed: 1 },
    }),
  );
  const v2 = Buffer.concat([
    Buffer.from(
      head('/v2/models/dropout/infer', {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': v2Header.length,
        'content-length': v2Header.length + body.length,
      }),
    ),
    v2Header,
    body,
  ]);
  for (const [name, request] of [
    ['/v1 binary', binary],
    ['/v1 JSON', json],
    ['/v2 binary', v2],
  ] as const) {
    for (let i = 0; i < 12; i++) t.equal(await hangUpDuringReply(port, request, 2000), 'HTTP/1.1 200', `${name} ${i}`);
    t.same(await settled(app), { slots: 0, bytes: 0, leases: 0 }, `${name}: nothing held after 12 hang-ups`);
  }
  t.same(await exactBinary(port, 4096, 3), { status: 200, exact: true }, 'compute requests are still served');
  t.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200, 'and the service is ready');
});

t.test('liveness fails when a request holds its resources far past any deadline', async (t) => {
  const { app, port } = await listen(t, { REQUEST_TIMEOUT_MS: '100' });
  t.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
  // A lease that nothing will ever end: what a leak on some unforeseen path would leave behind.
  const lease = app.admission.admit(0, () => {});
  await new Promise((r) => setTimeout(r, 1500));
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  t.equal(res.status, 503);
  t.match(await res.json(), { code: 'NOT_LIVE', detail: /held its resources/ });
  if (typeof lease !== 'string') lease.end();
  t.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200, 'live again once it is given back');
});

t.test('aborted uploads give their bytes back and their memory is reused (a real process)', async (t) => {
  const server = await startServer(t, {});
  await exactBinary(server.port, 4096, 1);
  const before = server.rss();
  // Each declares 8 MiB and hangs up after 3 MiB: without reuse every one left ~3 MB resident for good.
  for (let i = 0; i < 200; i++) await abortUpload(server.port, '/v1/dropout?p=0.5&seed=1', 8 * MiB, 3 * MiB);
  // The last few are given back as the server sees their sockets close.
  let metrics = '';
  for (let i = 0; i < 100; i++) {
    metrics = await (await fetch(`${server.origin}/metrics`)).text();
    if (/^dropout_inflight_requests 0$/m.test(metrics)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const grown = server.rss() - before;
  t.ok(grown < 250 * MiB, `resident memory grew ${Math.round(grown / MiB)} MiB after 200 aborted uploads`);
  t.match(metrics, /^dropout_inflight_requests 0$/m);
  t.match(metrics, /^dropout_inflight_bytes 0$/m);
  t.same(await exactBinary(server.port, 2 * MiB, 4), { status: 200, exact: true }, 'recycled memory computes exactly');
});

t.test('slow uploads hold no compute slot: other requests keep being served', async (t) => {
  const { port } = await listen(t, { MAX_QUEUE: '2', BODY_IDLE_TIMEOUT_MS: '2000' });
  const sockets: net.Socket[] = [];
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
  });
  for (let i = 0; i < 16; i++) {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      head('/v1/dropout?p=0.5&seed=1', { 'content-type': 'application/octet-stream', 'content-length': 4096 }),
    );
    socket.write(Buffer.alloc(16));
    socket.on('error', () => {});
    sockets.push(socket);
  }
  // The trickle goes on (a byte every 100 ms, well inside the idle timeout) while others compute.
  const trickle = setInterval(() => {
    for (const socket of sockets) socket.write(Buffer.alloc(1));
  }, 100);
  t.teardown(() => clearInterval(trickle));
  for (let i = 0; i < 6; i++) t.same(await exactBinary(port, 4096, i), { status: 200, exact: true }, `request ${i}`);
});

t.test('an upload that goes silent fails with 408 after BODY_IDLE_TIMEOUT_MS and its connection closes', async (t) => {
  const { app, port } = await listen(t, { BODY_IDLE_TIMEOUT_MS: '300' });
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(
    head('/v1/dropout?p=0.5&seed=1', { 'content-type': 'application/octet-stream', 'content-length': 4096 }),
  );
  socket.write(Buffer.alloc(10));
  let reply = '';
  socket.on('data', (chunk: Buffer) => {
    reply += chunk.toString('latin1');
  });
  socket.on('error', () => {});
  const started = Date.now();
  await once(socket, 'close');
  t.ok(Date.now() - started < 5000, 'closed well before REQUEST_TIMEOUT_MS');
  t.match(reply, /^HTTP\/1\.1 408/, reply);
  t.match(reply, /"code":"BODY_TIMEOUT"/);
  t.same(await settled(app), { slots: 0, bytes: 0, leases: 0 });
});

t.test('admission by bytes: past MAX_INFLIGHT_BYTES a request gets a fast 503 before its body is read', async (t) => {
  const { app, port } = await listen(t, { MAX_INFLIGHT_BYTES: String(10 * MiB) });
  const n = MiB;
  const x = new Float32Array(genInput(n));
  const body = Buffer.from(x.buffer);
  // Four 4 MiB uploads, half sent and held: two fit the 10 MiB budget, the others are refused on arrival.
  const uploads = Array.from({ length: 4 }, async (_, seed) => {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      head(`/v1/dropout?p=0.5&seed=${seed}`, {
        'content-type': 'application/octet-stream',
        'content-length': body.length,
      }),
    );
    socket.write(body.subarray(0, body.length / 2));
    let reply = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk]);
    });
    socket.on('error', () => {});
    return { socket, seed, reply: () => reply };
  });
  const held = await Promise.all(uploads);
  await new Promise((r) => setTimeout(r, 500));
  const refused = held.filter((u) => u.reply().toString('latin1').startsWith('HTTP/1.1 503'));
  t.equal(refused.length, 2, 'two refused while their bodies were still unsent');
  for (const u of refused) {
    t.match(u.reply().toString('latin1'), /retry-after: 1/i);
    t.match(u.reply().toString('latin1'), /MAX_INFLIGHT_BYTES/);
  }
  const admitted = held.filter((u) => !refused.includes(u));
  // The rest of each body, without half-closing (Node's server aborts a request whose client sends FIN first).
  for (const u of admitted) u.socket.write(body.subarray(body.length / 2));
  const complete = (u: (typeof admitted)[number]) => {
    const reply = u.reply();
    const split = reply.indexOf('\r\n\r\n');
    return split > 0 && reply.length >= split + 4 + body.length;
  };
  for (let i = 0; i < 200 && !admitted.every(complete); i++) await new Promise((r) => setTimeout(r, 50));
  for (const u of admitted) {
    const reply = u.reply();
    const split = reply.indexOf('\r\n\r\n');
    t.match(reply.subarray(0, split).toString('latin1'), /^HTTP\/1\.1 200/, reply.subarray(0, 300).toString('latin1'));
    const expected = Buffer.from(referenceDropout(x, 0.5, BigInt(u.seed)).out.buffer);
    t.ok(reply.subarray(split + 4).equals(expected), `upload ${u.seed} exact`);
  }
  for (const u of held) u.socket.destroy();
  t.same(await settled(app), { slots: 0, bytes: 0, leases: 0 });
});

t.test('a chunked body is held to the byte budget as it arrives', async (t) => {
  const { app, port } = await listen(t, { MAX_INFLIGHT_BYTES: String(8 * MiB) });
  // 6 MiB are reserved by an upload that declared them; a chunked body has no declaration and counts as it comes.
  const holder = net.connect(port, '127.0.0.1');
  await once(holder, 'connect');
  holder.on('error', () => {});
  holder.write(head('/v1/dropout', { 'content-type': 'application/octet-stream', 'content-length': 6 * MiB }));
  await new Promise((r) => setTimeout(r, 200));
  const res = await fetch(`http://127.0.0.1:${port}/v1/dropout?p=0.5&seed=1`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: new ReadableStream({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(MiB));
        controller.close();
      },
    }),
    duplex: 'half',
  } as RequestInit);
  t.equal(res.status, 503);
  t.equal(res.headers.get('retry-after'), '1');
  t.match(await res.json(), { code: 'OVERLOADED', detail: /MAX_INFLIGHT_BYTES/ });
  holder.destroy();
  t.same(await settled(app), { slots: 0, bytes: 0, leases: 0 });
});

t.test('more connections than descriptors: the excess is closed, the process survives (ulimit -n 256)', async (t) => {
  const server = await startServer(t, {}, { fileLimit: 256 });
  const sockets = await Promise.all(
    Array.from({ length: 300 }, async () => {
      const socket = net.connect(server.port, '127.0.0.1');
      socket.on('error', () => {});
      await once(socket, 'connect');
      return socket;
    }),
  );
  let closed = 0;
  for (const socket of sockets) socket.once('close', () => closed++);
  // Long enough for every periodic check (the event-loop sampler, the lease sweep) to run a few times.
  await new Promise((r) => setTimeout(r, 3500));
  t.equal(
    server.child.exitCode,
    null,
    `the process is still running${server.child.exitCode === null ? '' : `:\n${server.log()}`}`,
  );
  t.ok(closed >= 300 - 200, `${closed} connections past MAX_CONNECTIONS were closed on arrival`);
  for (const socket of sockets) socket.destroy();
  await new Promise((r) => setTimeout(r, 200));
  t.equal((await fetch(`${server.origin}/healthz`)).status, 200, 'and it serves again once they are gone');
  t.same(await exactBinary(server.port, 4096, 5), { status: 200, exact: true });
});

t.test('a lagging event loop sheds compute requests, never probes, and recovers', async (t) => {
  const app = await startApp(t, { MAX_EVENT_LOOP_DELAY_MS: '500' });
  const x = new Float32Array(genInput(64));
  const post = () =>
    app.inject({
      method: 'POST',
      url: '/v1/dropout?p=0.5&seed=1',
      headers: { 'content-type': 'application/octet-stream' },
      payload: Buffer.from(x.buffer),
    });
  t.equal((await post()).statusCode, 200, 'served while the loop keeps up');
  const until = Date.now() + 4000;
  while (Date.now() < until) {
    // Holds the event loop, as a stalled handler would.
  }
  // The delay is sampled once a second, so shedding starts within a second of the stall.
  let shed = await post();
  for (let i = 0; i < 30 && shed.statusCode === 200; i++) {
    await new Promise((r) => setTimeout(r, 50));
    shed = await post();
  }
  t.equal(shed.statusCode, 503);
  t.equal(shed.headers['retry-after'], '1');
  t.match(shed.json(), { code: 'OVERLOADED', detail: /event loop is lagging/ });
  t.equal((await app.inject('/healthz')).statusCode, 200, 'liveness is not shed');
  t.match((await app.inject('/readyz')).json(), { code: 'NOT_READY', detail: /lagging/ });
  let again = shed;
  for (let i = 0; i < 40 && again.statusCode === 503; i++) {
    await new Promise((r) => setTimeout(r, 250));
    again = await post();
  }
  t.equal(again.statusCode, 200, 'served again once the loop keeps up');
});
