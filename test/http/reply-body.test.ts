/**
 * Large replies are written in slices, one per event-loop turn: the bytes and their length must be exactly the
 * parts', and a client that hangs up mid-reply must cost nothing but its own reply.
 */
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { SLICE_BYTES, SlicedBody } from '../../src/http/reply-body.js';
import { postBinary, postJson, startApp } from '../helpers.js';

function bytes(length: number, start: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (start + i * 7) & 0xff;
  return out;
}

async function collect(body: SlicedBody): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return chunks;
}

t.test('SlicedBody gives the parts in order, in slices of at most sliceBytes, one per turn', async (t) => {
  const parts = [bytes(10, 1), bytes(0, 0), bytes(25, 2), bytes(3, 3)];
  let turns = 0;
  const ticker = setInterval(() => {
    turns += 1;
  }, 0);
  const chunks = await collect(new SlicedBody(parts, 8));
  clearInterval(ticker);
  t.same(
    chunks.map((c) => c.length),
    [8, 2, 8, 8, 8, 1, 3],
    'no slice crosses a part or exceeds 8 bytes',
  );
  t.same(Buffer.concat(chunks), Buffer.concat(parts));
  t.same(await collect(new SlicedBody([])), [], 'no parts: an empty body');
  t.ok(turns >= 1, 'the event loop ran between slices');
});

t.test('a binary reply larger than a slice: Content-Length and exact bytes', async (t) => {
  const app = await startApp(t);
  const n = SLICE_BYTES; // 4 MiB of float32: four slices
  const values = new Float32Array(n).map((_, i) => i + 0.5);
  const res = await postBinary(app, Buffer.from(values.buffer), 'mode=eval');
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-length'], String(n * 4));
  t.equal(res.headers['transfer-encoding'], undefined, 'not chunked');
  t.ok(res.rawPayload.equals(Buffer.from(values.buffer)), 'eval mode: the input, byte for byte');
});

t.test('a JSON reply larger than a slice, gzipped on the way out: the same bytes once inflated', async (t) => {
  const app = await startApp(t);
  const input = Array.from({ length: 250_000 }, (_, i) => (i % 997) / 997 + 0.123456789);
  const body = { input, p: 0.5, seed: 3 };
  const plain = await postJson(app, body);
  t.equal(plain.statusCode, 200);
  t.ok(plain.rawPayload.length > SLICE_BYTES, `the reply is ${plain.rawPayload.length} bytes, more than a slice`);
  t.equal(plain.headers['content-length'], String(plain.rawPayload.length));
  const gz = await postJson(app, body, { 'accept-encoding': 'gzip' });
  t.equal(gz.statusCode, 200);
  t.equal(gz.headers['content-encoding'], 'gzip');
  t.equal(gz.headers['content-length'], undefined, 'the compressed length is not the plain one');
  t.ok(gunzipSync(gz.rawPayload).equals(plain.rawPayload));
});

t.test('a client hanging up mid-reply does not disturb the next request', async (t) => {
  const app = await startApp(t);
  const origin = await app.listen({ host: '127.0.0.1', port: 0 });
  const body = Buffer.alloc(16 * SLICE_BYTES);
  await new Promise<void>((resolve, reject) => {
    const req = request(`${origin}/v1/dropout?p=0.5&seed=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
    });
    req.on('response', (res) => {
      res.once('data', () => {
        res.destroy();
        resolve();
      });
    });
    req.on('error', reject);
    req.end(body);
  });
  const ok = await fetch(`${origin}/v1/dropout?mode=eval`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.from(new Float32Array([1, 2, 3]).buffer),
  });
  t.equal(ok.status, 200);
  t.same(new Float32Array(await ok.arrayBuffer()), new Float32Array([1, 2, 3]));
});
