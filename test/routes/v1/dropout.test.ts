import t from 'tap';
import { f32Bytes, postBinary, postJson, startApp } from '../../helpers.js';
import { genInput, referenceDropout } from '../../reference.js';

t.test('JSON: nested in, nested out, values as the reference computes them', async (t) => {
  const app = await startApp(t);
  const x = Array.from(new Float32Array(genInput(12)));
  const nested = [x.slice(0, 4), x.slice(4, 8), x.slice(8, 12)];
  const res = await postJson(app, { input: nested, p: 0.3, seed: 7, return_mask: true });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^application\/json/);
  const body = res.json();
  const ref = referenceDropout(new Float32Array(x), 0.3, 7n);
  // The JSON numbers are shortest float32 decimals: they read back to the reference's float32 values.
  t.same(
    body.output.map((row: number[]) => row.map(Math.fround)),
    [0, 4, 8].map((a) => Array.from(ref.out.slice(a, a + 4))),
  );
  t.same(
    body.mask.flat(),
    Array.from(ref.out, (v, i) => v !== 0 || x[i] === 0),
  );
  t.match(body, { shape: [3, 4], dtype: 'float32', p: 0.3, mode: 'train', variant: 'standard', rng: 'philox' });
  t.equal(body.seed, '7');
  t.equal(body.offset, 0);
  t.equal(body.kept, ref.kept);
});

t.test('JSON: a flat input with shape stays flat; float64 is computed in float64', async (t) => {
  const app = await startApp(t);
  const x = Array.from(genInput(6));
  const res = await postJson(app, { input: x, shape: [2, 3], dtype: 'float64', p: 0.5, seed: '99' });
  const body = res.json();
  t.same(body.shape, [2, 3]);
  t.same(body.output, Array.from(referenceDropout(new Float64Array(x), 0.5, 99n).out));
});

t.test('float32 values are written as the shortest decimal that reads back the same', async (t) => {
  const app = await startApp(t);
  const res = await postJson(
    app,
    '{"input":[0.1,0.3333333432674408,16777216,1.401298464324817e-45,3.4028234663852886e38,-0],"mode":"eval"}',
  );
  t.equal(res.body.slice(0, res.body.indexOf(']') + 1), '{"output":[0.1,0.33333334,16777216,1e-45,3.4028235e+38,-0.0]');
  t.equal(res.json().seed, null, 'eval reports no seed');
});

t.test('non-finite values travel as "NaN", "Infinity", "-Infinity" both ways', async (t) => {
  const app = await startApp(t);
  const res = await postJson(app, { input: ['NaN', 'Infinity', '-Infinity', 1], p: 0, seed: 1 });
  t.same(res.json().output, ['NaN', 'Infinity', '-Infinity', 1]);
  const dropped = await postJson(app, { input: ['Infinity', '-Infinity'], p: 1, seed: 1 });
  t.same(dropped.json().output, ['NaN', 'NaN'], 'p = 1 gives x·0, and ∞·0 is NaN as in PyTorch');
});

t.test('binary: raw little-endian bytes in and out, with the documented headers', async (t) => {
  const app = await startApp(t);
  const x = new Float32Array(genInput(24));
  const res = await postBinary(app, f32Bytes(x), 'shape=2,3,4&p=0.25&seed=42&offset=5');
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'application/octet-stream');
  t.equal(res.headers['tensor-shape'], '2,3,4');
  t.equal(res.headers['tensor-dtype'], 'float32');
  t.equal(res.headers['dropout-seed'], '42');
  const ref = referenceDropout(x, 0.25, 42n, 5n);
  t.equal(res.headers['dropout-kept'], String(ref.kept));
  t.same(res.rawPayload, Buffer.from(ref.out.buffer));
});

t.test('JSON and binary give the same values, whichever format the reply takes', async (t) => {
  const app = await startApp(t);
  const x = Array.from(new Float32Array(genInput(50)));
  const settings = { p: 0.4, seed: '123456789012345678' };
  const fromJson = (await postJson(app, { input: x, ...settings })).json().output.map(Math.fround);
  const binaryToJson = await postBinary(app, f32Bytes(x), 'p=0.4&seed=123456789012345678', {
    accept: 'application/json',
  });
  t.same(binaryToJson.json().output.map(Math.fround), fromJson);
  const jsonToBinary = await postJson(app, { input: x, ...settings }, { accept: 'application/octet-stream' });
  t.same(Array.from(new Float32Array(new Uint8Array(jsonToBinary.rawPayload).buffer)), fromJson);
  const binary = await postBinary(app, f32Bytes(x), 'p=0.4&seed=123456789012345678');
  t.same(binary.rawPayload, jsonToBinary.rawPayload);
});

t.test('eval mode and p = 0 return the input bit for bit', async (t) => {
  const app = await startApp(t);
  const bits = new Uint32Array([0, 0x80000000, 0x7fc00001, 0xffc12345, 1, 0x807fffff, 0xff800000, 0x3dcccccd]);
  const bytes = Buffer.from(bits.buffer);
  for (const query of ['mode=eval', 'p=0&seed=5', 'mode=eval&p=0.9']) {
    const res = await postBinary(app, bytes, query);
    t.same(res.rawPayload, bytes, query);
  }
  const eval64 = await postBinary(
    app,
    Buffer.from(new Float64Array([-0, 5e-324, Number.NaN]).buffer),
    'dtype=float64&mode=eval',
  );
  t.same(new Float64Array(new Uint8Array(eval64.rawPayload).buffer), new Float64Array([-0, 5e-324, Number.NaN]));
});

t.test('an omitted seed is drawn, reported, and replays to the same bytes', async (t) => {
  const app = await startApp(t);
  const bytes = f32Bytes(genInput(64));
  const first = await postBinary(app, bytes, 'p=0.5');
  const seed = first.headers['dropout-seed'];
  t.match(seed, /^\d+$/);
  const replay = await postBinary(app, bytes, `p=0.5&seed=${seed}`);
  t.same(replay.rawPayload, first.rawPayload);
  const other = await postBinary(app, bytes, 'p=0.5');
  t.not(other.headers['dropout-seed'], seed, 'each unseeded request gets a fresh seed');
});

t.test('negative seeds wrap modulo 2^64 as torch.manual_seed does', async (t) => {
  const app = await startApp(t);
  const input = Array.from(genInput(32));
  const a = (await postJson(app, { input, seed: -1 })).json();
  const b = (await postJson(app, { input, seed: '18446744073709551615' })).json();
  t.equal(a.seed, '18446744073709551615');
  t.same(a.output, b.output);
});

t.test('empty tensors and 0-d tensors', async (t) => {
  const app = await startApp(t);
  const empty = (await postJson(app, { input: [[], []], seed: 1 })).json();
  t.same(empty.output, [[], []]);
  t.same(empty.shape, [2, 0]);
  const scalar = (await postJson(app, { input: [2], shape: [], p: 0, seed: 1 })).json();
  t.same(scalar.shape, []);
  t.equal(scalar.output, 2);
  const emptyBinary = await postBinary(app, Buffer.alloc(0), 'shape=0,3&seed=1');
  t.equal(emptyBinary.statusCode, 200);
  t.equal(emptyBinary.rawPayload.length, 0);
});

t.test('large JSON bodies parsed and serialised by workers give the same bytes as the main thread', async (t) => {
  const inline = await startApp(t);
  const offloaded = await startApp(t, { INLINE_MAX_JSON_BYTES: '0', INLINE_MAX_ELEMENTS: '0', CHUNK_ELEMENTS: '64' });
  const x = Array.from(new Float32Array(genInput(600)));
  const bodies = [
    { input: [x.slice(0, 300), x.slice(300)], p: 0.2, seed: '5', return_mask: true },
    { input: x, shape: [6, 100], dtype: 'float64', p: 0.7, seed: 6, offset: 9 },
    { input: ['NaN', -0, 'Infinity', 1e-45], mode: 'eval', return_mask: true },
  ];
  for (const body of bodies) {
    const a = await postJson(inline, body);
    const b = await postJson(offloaded, body);
    t.equal(b.statusCode, 200);
    t.equal(b.body, a.body, 'identical reply text');
  }
  const binary = await postBinary(offloaded, f32Bytes(x), 'shape=20,30&p=0.5&seed=8', { accept: 'application/json' });
  const direct = await postBinary(inline, f32Bytes(x), 'shape=20,30&p=0.5&seed=8', { accept: 'application/json' });
  t.equal(binary.body, direct.body, 'binary in, JSON out, serialised by a worker');
});
