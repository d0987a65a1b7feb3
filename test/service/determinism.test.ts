import t from 'tap';
import { f32Bytes, postBinary, startApp } from '../helpers.js';
import { genInput, referenceDropout } from '../reference.js';

const N = 100_003;
const x = new Float32Array(genInput(N));
const query = 'p=0.3&seed=18446744073709551557&offset=11';

t.test('identical bytes whatever the worker count and split size', async (t) => {
  const expected = Buffer.from(referenceDropout(x, 0.3, 18446744073709551557n, 11n).out.buffer);
  const layouts = [
    { WORKERS: '1', CHUNK_ELEMENTS: '4194304' },
    { WORKERS: '2', CHUNK_ELEMENTS: '1000' },
    { WORKERS: '4', CHUNK_ELEMENTS: '64' },
    { WORKERS: '4', CHUNK_ELEMENTS: '33333' },
  ];
  for (const layout of layouts) {
    // INLINE_MAX_ELEMENTS=0 sends every tensor through the pool.
    const app = await startApp(t, { ...layout, INLINE_MAX_ELEMENTS: '0' });
    const res = await postBinary(app, f32Bytes(x), query);
    t.equal(res.statusCode, 200);
    t.ok(res.rawPayload.equals(expected), `WORKERS=${layout.WORKERS} CHUNK_ELEMENTS=${layout.CHUNK_ELEMENTS}`);
    await app.close();
  }
  const inline = await startApp(t, { INLINE_MAX_ELEMENTS: String(N) });
  t.ok((await postBinary(inline, f32Bytes(x), query)).rawPayload.equals(expected), 'computed on the main thread');
});

t.test('a shard sent with offset = a is exactly that slice of the whole result', async (t) => {
  const app = await startApp(t, { INLINE_MAX_ELEMENTS: '1000', CHUNK_ELEMENTS: '4096' });
  const whole = new Float32Array(
    new Uint8Array((await postBinary(app, f32Bytes(x), 'p=0.5&seed=2024')).rawPayload).buffer,
  );
  for (const [a, b] of [
    [0, 1],
    [1, 7],
    [3, 50_001],
    [50_001, N],
    [99_999, N],
  ]) {
    const res = await postBinary(app, f32Bytes(x.subarray(a, b)), `p=0.5&seed=2024&offset=${a}`);
    const shard = new Float32Array(new Uint8Array(res.rawPayload).buffer);
    t.ok(Buffer.from(shard.buffer).equals(Buffer.from(whole.slice(a, b).buffer)), `x[${a}:${b}]`);
  }
});

t.test('the same request gives the same bytes on every call and concurrently', async (t) => {
  const app = await startApp(t, { INLINE_MAX_ELEMENTS: '0', CHUNK_ELEMENTS: '8192' });
  const replies = await Promise.all(Array.from({ length: 8 }, () => postBinary(app, f32Bytes(x), query)));
  for (const r of replies) t.ok(r.rawPayload.equals(replies[0].rawPayload));
});
