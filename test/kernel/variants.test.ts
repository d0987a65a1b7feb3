import t from 'tap';
import { philoxKey } from '../../src/kernel/philox.js';
import { applyVariantRange, philoxNoise, SELU_ALPHA, type VariantPlan } from '../../src/kernel/variants.js';
import { f32Bytes, postBinary, postJson, startApp } from '../helpers.js';
import { drawU32, genInput } from '../reference.js';

const [key0, key1] = philoxKey(31337n);
const plan = (over: Partial<VariantPlan>): VariantPlan => ({
  dtype: 'float32',
  variant: 'standard',
  p: 0.5,
  shape: [1],
  noiseShape: null,
  key0,
  key1,
  offset: 0,
  ...over,
});

t.test('alpha: kept values are R(R(x·a) + α·a·p), dropped ones R(c2 − c1), decided by the Philox draws', (t) => {
  for (const p of [0.2, 0.5, 0.8]) {
    const n = 5000;
    const x = new Float32Array(genInput(n));
    const out = x.slice();
    const mask = new Uint8Array(n);
    applyVariantRange(out, 0, n, plan({ variant: 'alpha', p, shape: [n] }), mask);
    const a = 1 / Math.sqrt((SELU_ALPHA * SELU_ALPHA * p + 1) * (1 - p));
    const R = Math.fround;
    const [ra, c1, c2] = [R(a), R(SELU_ALPHA * a), R(SELU_ALPHA * a * p)];
    const T = Math.floor((1 - p) * 2 ** 32);
    let bad = 0;
    for (let i = 0; i < n; i++) {
      const keep = drawU32(31337n, BigInt(i)) < T;
      const expected = keep ? R(R(x[i] * ra) + c2) : R(R(x[i] * 0) + R(c2 - c1));
      if (!Object.is(out[i], expected) || mask[i] !== (keep ? 1 : 0)) bad++;
    }
    t.equal(bad, 0, `p=${p}`);
    t.ok(Math.abs(R(c2 - c1) - -SELU_ALPHA * a * (1 - p)) < 1e-6, 'dropped ≈ −α·a·(1 − p)');
  }
  t.end();
});

t.test('feature dropout zeroes whole channels of (N, C, H, W)', async (t) => {
  const app = await startApp(t, { INLINE_MAX_ELEMENTS: '0', CHUNK_ELEMENTS: '64' });
  const [N, C, H, W] = [3, 8, 5, 7];
  const x = new Float32Array(N * C * H * W).fill(1.5);
  const res = await postBinary(app, f32Bytes(x), `shape=${N},${C},${H},${W}&variant=feature&p=0.5&seed=4`);
  const out = new Float32Array(new Uint8Array(res.rawPayload).buffer);
  let droppedChannels = 0;
  for (let ch = 0; ch < N * C; ch++) {
    const values = new Set(out.subarray(ch * H * W, (ch + 1) * H * W));
    t.equal(values.size, 1, `channel ${ch} is uniform`);
    if (values.has(0)) droppedChannels++;
    else t.ok(values.has(3), 'kept channels are scaled by 1/(1 − p)');
  }
  t.ok(droppedChannels > 0 && droppedChannels < N * C, `${droppedChannels} of ${N * C} channels dropped`);
  t.equal(Number(res.headers['dropout-kept']), (N * C - droppedChannels) * H * W, 'kept counts output elements');
});

t.test('noise_shape broadcast equals the explicitly expanded noise', (t) => {
  const shape = [4, 3, 6];
  const noise = [4, 1, 6];
  const n = 72;
  for (const variant of ['standard', 'alpha', 'gaussian'] as const) {
    const p = 0.4;
    const x = new Float64Array(genInput(n));
    const out = x.slice();
    applyVariantRange(out, 0, n, plan({ dtype: 'float64', variant, p, shape, noiseShape: noise, offset: 7 }));
    // Draw the 24 noise elements, expand them by hand, then apply elementwise with precomputed noise.
    const drawn = variant === 'gaussian' ? new Float64Array(24) : new Uint8Array(24);
    philoxNoise(plan({ dtype: 'float64', variant, p, offset: 7 }), 24, drawn);
    const expanded = variant === 'gaussian' ? new Float64Array(n) : new Uint8Array(n);
    for (let a = 0; a < 4; a++)
      for (let b = 0; b < 3; b++) for (let c = 0; c < 6; c++) expanded[a * 18 + b * 6 + c] = drawn[a * 6 + c];
    const direct = x.slice();
    const precomputed =
      variant === 'gaussian' ? { multipliers: expanded as Float64Array } : { keep: expanded as Uint8Array };
    applyVariantRange(direct, 0, n, plan({ dtype: 'float64', variant, p, shape: [n], ...precomputed }));
    t.same(Array.from(out), Array.from(direct), variant);
  }
  t.end();
});

t.test('gaussian: mean and variance of x·(1 + σz) within 5σ of x and x²·p/(1 − p)', (t) => {
  const n = 1 << 20;
  for (const p of [0.2, 0.5]) {
    const out = new Float64Array(n).fill(2);
    applyVariantRange(out, 0, n, plan({ dtype: 'float64', variant: 'gaussian', p, shape: [n] }));
    let sum = 0;
    for (const v of out) sum += v;
    const mean = sum / n;
    let ss = 0;
    for (const v of out) ss += (v - mean) ** 2;
    const variance = ss / (n - 1);
    const expectedVariance = 4 * (p / (1 - p));
    t.ok(Math.abs(mean - 2) < 5 * Math.sqrt(expectedVariance / n), `p=${p}: mean ${mean}`);
    t.ok(
      Math.abs(variance - expectedVariance) < 5 * expectedVariance * Math.sqrt(2 / (n - 1)),
      `p=${p}: variance ${variance} vs ${expectedVariance}`,
    );
  }
  t.end();
});

t.test('every variant gives the same bytes whatever the worker count and split', async (t) => {
  const x = new Float32Array(genInput(30_000));
  const queries = [
    'variant=gaussian&p=0.3&seed=9&shape=100,300',
    'variant=alpha&p=0.3&seed=9&shape=100,300',
    'variant=feature_alpha&p=0.3&seed=9&shape=10,10,300',
    'noise_shape=1,300&p=0.3&seed=9&shape=100,300',
    'rng=torch&p=0.3&seed=9&shape=100,300&offset=5',
    'variant=feature&rng=torch&p=0.3&seed=9&shape=10,10,300',
  ];
  const results: Buffer[][] = [];
  for (const env of [
    { WORKERS: '1', INLINE_MAX_ELEMENTS: '100000', CHUNK_ELEMENTS: '4194304' },
    { WORKERS: '2', INLINE_MAX_ELEMENTS: '0', CHUNK_ELEMENTS: '1000' },
    { WORKERS: '3', INLINE_MAX_ELEMENTS: '0', CHUNK_ELEMENTS: '64' },
  ]) {
    const app = await startApp(t, env);
    results.push(await Promise.all(queries.map(async (q) => (await postBinary(app, f32Bytes(x), q)).rawPayload)));
    await app.close();
  }
  queries.forEach((q, i) => {
    t.ok(results[1][i].equals(results[0][i]) && results[2][i].equals(results[0][i]), q);
  });
});

t.test('return_mask expands broadcast masks to the output shape', async (t) => {
  const app = await startApp(t);
  const res = await postJson(app, {
    input: [
      [1, 2, 3],
      [4, 5, 6],
    ],
    noise_shape: [2, 1],
    p: 0.5,
    seed: 12,
    return_mask: true,
  });
  const { output, mask } = res.json();
  t.equal(mask.length, 2);
  for (let r = 0; r < 2; r++) {
    t.equal(new Set(mask[r]).size, 1, 'a row shares its draw');
    t.same(
      output[r].map((v: number) => v !== 0),
      mask[r],
    );
  }
  const gaussian = (await postJson(app, { input: [1, 2, 3], variant: 'gaussian', seed: 1, return_mask: true })).json();
  t.same(gaussian.mask, [true, true, true], 'gaussian drops nothing');
  t.equal(gaussian.kept, 3);
});

t.test('float16 and bfloat16 through JSON: 16-bit rounding, written as the shortest float32 decimals', async (t) => {
  const app = await startApp(t);
  const f16 = (
    await postJson(app, { input: [0.1, 65504, 1e-8, 'NaN', -0, 70000], dtype: 'float16', mode: 'eval' })
  ).json();
  t.same(f16.output, [0.099975586, 65504, 0, 'NaN', -0, 'Infinity'], '0.1 in float16 is 0.0999755859375');
  const bf16 = (await postJson(app, { input: [0.1, 1 / 3, 3e38], dtype: 'bfloat16', mode: 'eval' })).json();
  t.same(
    bf16.output,
    [0.100097656, 0.33398438, 3.0040553e38],
    '1/3 in bfloat16 is 0.333984375, and 0.33398438 reads back to it as a float32 (0.334 only as a bfloat16)',
  );
  const binary = await postBinary(
    app,
    Buffer.from(new Uint16Array([0x3c00, 0x4000, 0xbc00]).buffer),
    'dtype=float16&p=0.5&seed=3',
  );
  t.equal(binary.rawPayload.length, 6, 'two bytes per element');
});
