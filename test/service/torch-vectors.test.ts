/**
 * rng "torch": every PyTorch reference output in shared/vectors/torch (made by gen.py there) reproduced bit for bit
 * through the service's own settings resolution and pool, and a sample through the HTTP route.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { type RawSettings, resolveSettings } from '../../src/dropout/settings.js';
import type { Tensor } from '../../src/dropout/tensor.js';
import type { Dtype, TensorData } from '../../src/kernel/dtype.js';
import { numberToBf16 } from '../../src/kernel/half.js';
import { OffloadPool } from '../../src/offload/pool.js';
import { applyDropout } from '../../src/service/apply-dropout.js';
import { SHARED_DIR, startApp } from '../helpers.js';
import { genInput } from '../reference.js';

interface Described {
  numel: number;
  sha256: string;
  zeros: number;
  out?: string[];
}
interface Vector extends Described {
  variant: string;
  shape: number[] | 'specials';
  dtype: Dtype;
  seed: string;
  p: number;
}
interface Continuation {
  variant: string;
  shape: number[];
  dtype: Dtype;
  seed: string;
  p: number;
  call1: Described;
  call2: Described;
}
const file = JSON.parse(readFileSync(join(SHARED_DIR, 'vectors/torch/vectors.json'), 'utf8')) as {
  inputs: Record<string, { all?: string[] }>;
  vectors: Vector[];
  continuation: Continuation[];
  big: Array<Described & { threads: number; seed: string; p: number }>;
};

/** The input gen.py used: stored bit patterns where it kept them, else its formula. */
function input(shape: number[] | 'specials', dtype: Dtype, numel: number): TensorData {
  const key = shape === 'specials' ? `specials/${dtype}` : `${shape.join('x')}/${dtype}`;
  const all = file.inputs[key]?.all;
  if (all) {
    if (dtype === 'bfloat16') return new Uint16Array(all.map((h) => Number.parseInt(h, 16)));
    if (dtype === 'float32') return new Float32Array(new Uint32Array(all.map((h) => Number.parseInt(h, 16))).buffer);
    return new Float64Array(new BigUint64Array(all.map((h) => BigInt(`0x${h}`))).buffer);
  }
  const x = genInput(numel);
  if (dtype === 'bfloat16') return new Uint16Array(Array.from(x, numberToBf16));
  return dtype === 'float32' ? new Float32Array(x) : new Float64Array(x);
}

function shared(data: TensorData): TensorData {
  const copy = new (data.constructor as new (b: SharedArrayBuffer) => TensorData)(
    new SharedArrayBuffer(data.byteLength),
  );
  copy.set(data);
  return copy;
}

/**
 * The service request that reproduces each PyTorch call: the functional wrappers' unsqueeze rules for unbatched
 * input become an explicit noise_shape (dropout1d on (C, L) is noise (C, 1); dropout3d on (C, D, H, W) is
 * (C, 1, 1, 1)); PyTorch 1.13's dropout2d treats 3-D input as (N, C, L).
 */
function requestFor(variant: string, shape: number[]): Pick<RawSettings, 'variant' | 'noise_shape'> {
  switch (variant) {
    case 'dropout':
      return { variant: 'standard' };
    case 'alpha_dropout':
      return { variant: 'alpha' };
    case 'feature_dropout':
    case 'dropout2d':
      return { variant: 'feature' };
    case 'feature_alpha_dropout':
      return { variant: 'feature_alpha' };
    case 'dropout1d':
      return shape.length === 2 ? { variant: 'standard', noise_shape: [shape[0], 1] } : { variant: 'feature' };
    case 'dropout3d':
      return shape.length === 4 ? { variant: 'standard', noise_shape: [shape[0], 1, 1, 1] } : { variant: 'feature' };
  }
  throw new Error(`unknown variant ${variant}`);
}

const sha256 = (data: TensorData) =>
  createHash('sha256')
    .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    .digest('hex');

async function run(pool: OffloadPool, v: Omit<Vector, keyof Described> & { numel: number }, offset = 0) {
  const shape = v.shape === 'specials' ? [v.numel] : v.shape;
  const data = shared(input(v.shape, v.dtype, v.numel));
  const tensor: Tensor = { shape, dtype: v.dtype, data };
  const settings = resolveSettings(
    { ...requestFor(v.variant, shape), p: v.p, seed: v.seed, rng: 'torch', offset },
    shape,
    v.dtype,
  );
  await applyDropout(pool, tensor, settings, false);
  return data;
}

/** A two-thread pool closed when the test ends; a thread failing outside a task fails the test. */
function startPool(t: Test, chunkElements: number, inlineMaxElements: number): OffloadPool {
  const pool = new OffloadPool({
    workers: 2,
    chunkElements,
    inlineMaxElements,
    workerNice: 0,
    onError: (error) => {
      throw error;
    },
  });
  t.teardown(() => pool.close());
  return pool;
}

t.test('every PyTorch vector, bit for bit, through the settings and the pool', async (t) => {
  const pool = startPool(t, 50_000, 2048);
  t.ok(file.vectors.length >= 1800, `${file.vectors.length} vectors`);
  const failures: string[] = [];
  for (const v of file.vectors) {
    const out = await run(pool, v);
    if (sha256(out) !== v.sha256)
      failures.push(`${v.variant} ${v.dtype} ${JSON.stringify(v.shape)} seed=${v.seed} p=${v.p}`);
  }
  t.same(failures, [], 'no vector differs');
});

t.test('continuation: a second call with offset = noise elements drawn replays PyTorch’s second call', async (t) => {
  const pool = startPool(t, 4096, 64);
  for (const c of file.continuation) {
    const shape = c.shape;
    const first = await run(pool, { ...c, numel: c.call1.numel });
    const { noise_shape, variant } = requestFor(c.variant, shape);
    const noise = variant === 'feature' ? shape.slice(0, 2) : Array.isArray(noise_shape) ? noise_shape : shape;
    const drawn = noise.reduce((a, b) => a * b, 1);
    const second = await run(pool, { ...c, numel: c.call2.numel }, drawn);
    const name = `${c.variant} ${c.dtype} [${shape}] seed=${c.seed} p=${c.p}`;
    t.equal(sha256(first), c.call1.sha256, `${name}: call 1`);
    t.equal(sha256(second), c.call2.sha256, `${name}: call 2 at offset ${drawn}`);
  }
});

t.test('16M elements: the same bytes as PyTorch with 1 and 2 threads', async (t) => {
  const pool = startPool(t, 1 << 22, 16384);
  const big = file.big[0];
  const out = await run(pool, {
    variant: 'dropout',
    shape: [big.numel],
    dtype: 'float32',
    seed: big.seed,
    p: big.p,
    numel: big.numel,
  });
  for (const b of file.big) t.equal(sha256(out), b.sha256, `torch with ${b.threads} thread(s)`);
});

t.test('a sample through HTTP, JSON and binary', async (t) => {
  const app = await startApp(t, { INLINE_MAX_ELEMENTS: '100' });
  const sample = file.vectors.filter((v, i) => i % 61 === 0 && v.shape !== 'specials' && v.out);
  t.ok(sample.length >= 15);
  for (const v of sample) {
    const shape = v.shape as number[];
    const x = input(shape, v.dtype, v.numel);
    const res = await app.inject({
      method: 'POST',
      url: `/v1/dropout?${new URLSearchParams({
        shape: shape.join(','),
        dtype: v.dtype,
        p: String(v.p),
        seed: v.seed,
        rng: 'torch',
        ...Object.fromEntries(Object.entries(requestFor(v.variant, shape)).map(([k, val]) => [k, String(val)])),
      })}`,
      headers: { 'content-type': 'application/octet-stream' },
      payload: Buffer.from(x.buffer, x.byteOffset, x.byteLength),
    });
    t.equal(res.statusCode, 200);
    const hex =
      v.dtype === 'bfloat16'
        ? Array.from(new Uint16Array(new Uint8Array(res.rawPayload).buffer), (b) => b.toString(16).padStart(4, '0'))
        : v.dtype === 'float32'
          ? Array.from(new Uint32Array(new Uint8Array(res.rawPayload).buffer), (b) => b.toString(16).padStart(8, '0'))
          : Array.from(new BigUint64Array(new Uint8Array(res.rawPayload).buffer), (b) =>
              b.toString(16).padStart(16, '0'),
            );
    t.same(hex, v.out, `${v.variant} ${v.dtype} [${shape}] seed=${v.seed} p=${v.p}`);
  }
});
