/**
 * Expected outputs for the tritonclient interoperability suite (test_tritonclient.py), computed by the project's
 * own kernels and never by the service, so the suite compares the service against code it does not run through.
 *
 * stdin: {"cases": [{"id", "dtype", "shape", "p", "mode", "seed", "offset", "input"}]}, `seed` a decimal string
 * (negative ones wrap modulo 2^64 as docs/semantics.md §1.8 says), `input` the little-endian bytes in base64.
 * stdout: {"<id>": {"output": base64, "mask": base64 of 0/1 bytes, "kept": n} | {"error": "<why>"}}.
 *
 * Every case is computed twice, by src/kernel (dropoutRange for float32/float64, applyVariantRange for the 16-bit
 * types) and by test/reference.ts's BigInt Philox with R(·) applied by hand, and the two must agree bit for bit:
 * a disagreement is reported as that case's error rather than trusted as the expected answer.
 */
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { dropoutRange, keepScale, keepThreshold } from '../../src/kernel/dropout.js';
import { type Dtype, encoderFor, type TensorData, viewOf } from '../../src/kernel/dtype.js';
import { philoxKey } from '../../src/kernel/philox.js';
import { applyVariantRange, rounder } from '../../src/kernel/variants.js';
import { drawU32, referenceDropout } from '../reference.js';
import { decoderFor } from '../tensors.js';

interface Case {
  id: string;
  dtype: Dtype;
  shape: number[];
  p: number;
  mode: 'train' | 'eval';
  seed: string;
  offset: number;
  input: string;
}

type Expected = { output: string; mask: string; kept: number } | { error: string };

const BYTES: Record<Dtype, number> = { float32: 4, float64: 8, float16: 2, bfloat16: 2 };
const TWO_64 = 1n << 64n;

function tensor(c: Case): TensorData {
  const bytes = Buffer.from(c.input, 'base64');
  const count = c.shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== count * BYTES[c.dtype]) {
    throw new Error(`input has ${bytes.length} bytes, shape ${c.shape} of ${c.dtype} needs ${count * BYTES[c.dtype]}`);
  }
  // A copy: the Buffer may sit at an offset of a shared pool that is not aligned for the dtype.
  const buffer = new ArrayBuffer(bytes.length);
  new Uint8Array(buffer).set(bytes);
  return viewOf(c.dtype, buffer, 0, count);
}

function bytesOf(data: TensorData | Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** The kernels the service is built from, on a copy of the input. */
function byKernel(c: Case, seed: bigint): { out: TensorData; mask: Uint8Array; kept: number } {
  const out = tensor(c);
  const mask = new Uint8Array(out.length);
  if (c.mode === 'eval') return { out, mask: mask.fill(1), kept: out.length };
  const [key0, key1] = philoxKey(seed);
  if (c.dtype === 'float32' || c.dtype === 'float64') {
    const params = { dtype: c.dtype, p: c.p, key0, key1, offset: c.offset };
    const kept = dropoutRange(out as Float32Array | Float64Array, 0, out.length, params, mask);
    return { out, mask, kept };
  }
  const plan = { dtype: c.dtype, variant: 'standard' as const, p: c.p, shape: c.shape, noiseShape: null };
  const kept = applyVariantRange(out, 0, out.length, { ...plan, key0, key1, offset: c.offset }, mask);
  return { out, mask, kept };
}

/**
 * docs/semantics.md §1 written out directly: keep(n) = u(n) < T from the BigInt Philox, out = R(x · (keep ? s : 0)),
 * s = R(1 / R(1 − p)); p = 0 and eval are the input itself, p = 1 is x · 0 without draws.
 */
function bySpec(c: Case, seed: bigint): { out: TensorData; mask: Uint8Array } {
  const x = tensor(c);
  const out = tensor(c);
  const mask = new Uint8Array(x.length).fill(1);
  if (c.mode === 'eval' || c.p === 0) return { out, mask };
  if ((c.dtype === 'float32' || c.dtype === 'float64') && c.p < 1) {
    // test/reference.ts covers the native dtypes on its own; its mask is recovered from the draws it used.
    const ref = referenceDropout(x as Float32Array | Float64Array, c.p, seed, BigInt(c.offset)).out;
    const threshold = keepThreshold(c.p);
    for (let i = 0; i < x.length; i++) mask[i] = drawU32(seed, BigInt(c.offset + i)) < threshold ? 1 : 0;
    return { out: ref, mask };
  }
  const R = rounder(c.dtype);
  const load = decoderFor(c.dtype);
  const store = encoderFor(c.dtype);
  const s = c.dtype === 'float32' || c.dtype === 'float64' ? keepScale(c.dtype, c.p) : R(1 / R(1 - c.p));
  const threshold = keepThreshold(c.p);
  for (let i = 0; i < x.length; i++) {
    const keep = c.p < 1 && drawU32(seed, BigInt(c.offset + i)) < threshold;
    mask[i] = keep ? 1 : 0;
    out[i] = store(R(load(x[i]) * (keep ? s : 0)));
  }
  return { out, mask };
}

function expected(c: Case): Expected {
  try {
    const seed = ((BigInt(c.seed) % TWO_64) + TWO_64) % TWO_64;
    const kernel = byKernel(c, seed);
    const spec = bySpec(c, seed);
    const [a, b] = [bytesOf(kernel.out), bytesOf(spec.out)];
    if (!a.equals(b)) {
      const width = BYTES[c.dtype];
      let i = 0;
      while (a.subarray(i * width, (i + 1) * width).equals(b.subarray(i * width, (i + 1) * width))) i++;
      const hex = (buf: Buffer) => buf.subarray(i * width, (i + 1) * width).toString('hex');
      return { error: `src/kernel and the spec reference disagree at element ${i}: ${hex(a)} vs ${hex(b)} (LE hex)` };
    }
    if (!bytesOf(kernel.mask).equals(bytesOf(spec.mask))) return { error: 'src/kernel and the spec disagree on mask' };
    return { output: a.toString('base64'), mask: bytesOf(kernel.mask).toString('base64'), kept: kernel.kept };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

const { cases } = JSON.parse(readFileSync(0, 'utf8')) as { cases: Case[] };
const result: Record<string, Expected> = {};
for (const c of cases) result[c.id] = expected(c);
process.stdout.write(JSON.stringify(result));
