import t from 'tap';
import { BufferCache } from '../../src/service/buffer-cache.js';
import { f32Bytes, postBinary, startApp } from '../helpers.js';
import { referenceDropout } from '../reference.js';

t.test('the pool hands out power-of-two buffers, reuses released ones, and keeps to its budget', (t) => {
  const pool = new BufferCache({ maxCachedBytes: 1 << 20 });
  t.teardown(() => pool.close());
  const a = pool.acquire(100_000);
  t.equal(a.byteLength, 131072);
  pool.release(a);
  t.equal(pool.acquire(70_000), a, 'a released buffer of the same class comes back');
  t.equal(pool.acquire(1000).byteLength, 1000, 'small buffers are not pooled');
  for (let i = 0; i < 20; i++) pool.release(new SharedArrayBuffer(131072));
  t.ok(pool.cachedBytes <= 1 << 20, 'never caches past its budget');
  t.end();
});

t.test('recycled body memory never leaks between concurrent requests', async (t) => {
  const app = await startApp(t, { INLINE_MAX_ELEMENTS: '20000', CHUNK_ELEMENTS: '8192' });
  const sizes = [20_000, 40_000, 70_000, 33_000];
  const rounds = await Promise.all(
    Array.from({ length: 24 }, async (_, k) => {
      const n = sizes[k % sizes.length];
      const x = new Float32Array(n).map((_, i) => ((i * 7 + k) % 101) - 50);
      const res = await postBinary(app, f32Bytes(x), `p=0.3&seed=${k}`);
      return res.rawPayload.equals(Buffer.from(referenceDropout(x, 0.3, BigInt(k)).out.buffer));
    }),
  );
  t.same(rounds, Array(24).fill(true), 'every reply is exactly its own request’s result');
});
