/** A real process receiving SIGTERM with requests in flight: all of them complete with correct bytes, then exit 0. */
import { once } from 'node:events';
import http from 'node:http';
import t from 'tap';
import { dropoutRange } from '../../src/kernel/dropout.js';
import { philoxKey } from '../../src/kernel/philox.js';
import { genInput } from '../reference.js';
import { startServer } from '../server-process.js';

t.test(
  'SIGTERM, delivered twice as to a process group: drain, finish every request that arrived, exit 0',
  async (t) => {
    const { child, origin, log } = await startServer(t, { WORKERS: '2', INLINE_MAX_ELEMENTS: '0' });

    const n = 2 << 20;
    const x = new Float32Array(genInput(n));
    const seeds = [1, 2, 3, 4, 5, 6];
    const body = Buffer.from(x.buffer);
    // Each request sends its headers and half its body, so the server has accepted it and is reading it when the
    // signal arrives; the second half follows the signal.
    const inFlight = seeds.map((seed) => {
      const request = http.request(`${origin}/v1/dropout?p=0.5&seed=${seed}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'content-length': body.length },
      });
      const reply = new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
        request.on('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        });
        request.on('error', reject);
      });
      request.write(body.subarray(0, body.length / 2));
      return { request, reply };
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const exited = once(child, 'exit');
    // A terminal's Ctrl-C or systemd's KillMode=control-group signal the group, and npm forwards its own copy.
    child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 5));
    child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const { request } of inFlight) request.end(body.subarray(body.length / 2));
    const ready = await fetch(`${origin}/readyz`);
    t.equal(ready.status, 503, 'readiness turns 503 at once');
    t.match(await ready.json(), { detail: /shutting down/ });
    const small = new Float32Array(genInput(64));
    const late = await fetch(`${origin}/v1/dropout?p=0.5&seed=9`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from(small.buffer),
    });
    const lateExpected = small.slice();
    const [k0, k1] = philoxKey(9n);
    dropoutRange(lateExpected, 0, small.length, { dtype: 'float32', p: 0.5, key0: k0, key1: k1, offset: 0 });
    t.equal(late.status, 200, 'a request arriving during the drain window is served');
    t.ok(Buffer.from(await late.arrayBuffer()).equals(Buffer.from(lateExpected.buffer)), 'with the correct bytes');
    const replies = await Promise.all(inFlight.map((f) => f.reply));
    replies.forEach((reply, i) => {
      const expected = x.slice();
      const [key0, key1] = philoxKey(BigInt(seeds[i]));
      dropoutRange(expected, 0, n, { dtype: 'float32', p: 0.5, key0, key1, offset: 0 });
      t.equal(reply.status, 200, `request ${i} completed`);
      t.ok(reply.body.equals(Buffer.from(expected.buffer)), `request ${i} has the correct bytes`);
    });
    const started = Date.now();
    const [code] = (await exited) as [number | null];
    t.equal(code, 0, 'exit code 0');
    t.ok(Date.now() - started < 11_000, 'within the shutdown bound');
    t.match(log(), /"signal":"SIGTERM"/, 'the shutdown was logged');
    await t.rejects(fetch(`${origin}/healthz`), 'no longer accepting connections');
  },
);

t.test('SIGTERM with a stalled upload: the silent connection is dropped and the process still exits 0', async (t) => {
  const { child, origin } = await startServer(t, { WORKERS: '1' });
  // Promises 1,000 bytes, sends 10, then goes silent (REQUEST_TIMEOUT_MS would wait 30 s, past the 10 s grace).
  const request = http.request(`${origin}/v1/dropout?p=0.5&seed=1`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'content-length': 1000 },
  });
  const dropped = new Promise<string>((resolve) => {
    request.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    request.on('response', (res) => resolve(`status ${res.statusCode}`));
  });
  request.write(Buffer.alloc(10));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const started = Date.now();
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  const took = Date.now() - started;
  t.equal(code, 0, 'exit code 0');
  t.ok(took < 6_000, `exited in ${took} ms, well inside the 10 s grace`);
  t.equal(await dropped, 'ECONNRESET', 'the stalled client sees its connection closed');
});
