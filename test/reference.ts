/**
 * An independent, deliberately naive implementation of docs/semantics.md §1 (standard variant, Philox stream) for the
 * tests: BigInt arithmetic, one Philox call per element, nothing shared with src/.
 */
const MASK32 = 0xffffffffn;

function philoxBig(counter: bigint[], key: bigint[]): bigint[] {
  let [x0, x1, x2, x3] = counter;
  let [k0, k1] = key;
  for (let r = 0; r < 10; r++) {
    const p0 = 0xd2511f53n * x0;
    const p1 = 0xcd9e8d57n * x2;
    [x0, x1, x2, x3] = [((p1 >> 32n) ^ x1 ^ k0) & MASK32, p1 & MASK32, ((p0 >> 32n) ^ x3 ^ k1) & MASK32, p0 & MASK32];
    k0 = (k0 + 0x9e3779b9n) & MASK32;
    k1 = (k1 + 0xbb67ae85n) & MASK32;
  }
  return [x0, x1, x2, x3];
}

/** The uint32 draw u(n) for a seed. */
export function drawU32(seed: bigint, n: bigint): number {
  const b = n / 4n;
  const words = philoxBig([b & MASK32, b >> 32n, 0n, 0n], [seed & MASK32, (seed >> 32n) & MASK32]);
  return Number(words[Number(n % 4n)]);
}

export function referenceDropout(
  x: Float32Array | Float64Array,
  p: number,
  seed: bigint,
  offset = 0n,
): { out: Float32Array | Float64Array; kept: number } {
  const f32 = x instanceof Float32Array;
  const R = (v: number) => (f32 ? Math.fround(v) : v);
  const out = f32 ? new Float32Array(x.length) : new Float64Array(x.length);
  if (p === 0) return { out: out.map((_, i) => x[i]), kept: x.length };
  const T = Math.floor((1 - p) * 2 ** 32);
  const s = R(1 / R(1 - p));
  let kept = 0;
  for (let i = 0; i < x.length; i++) {
    const keep = p < 1 && drawU32(seed, offset + BigInt(i)) < T;
    out[i] = R(x[i] * (keep ? s : 0));
    if (keep) kept++;
  }
  return { out, kept };
}

/** The test-input formula of shared/vectors/torch/gen.py, in float64 before rounding. */
export function genInput(n: number): Float64Array {
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const h = Number((BigInt(i) * 2654435761n + 12345n) % 2n ** 32n);
    x[i] = (h / 2 ** 32 - 0.5) * 8;
  }
  return x;
}

/** xorshift32: reproducible patterns without Math.random. */
export function xorshift(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
}
