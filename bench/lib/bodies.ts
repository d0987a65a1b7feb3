/** Request bodies, deterministic so that every run sends the same bytes, and their sizes. */

export const K = 1024;
export const M = 1024 * 1024;

/** mulberry32: a tiny seeded PRNG for test data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n values in [-4, 4) with at most 6 significant digits: the same text in JSON whether read as float32 or float64. */
export function sampleValues(n: number, seed = 1): number[] {
  const next = prng(seed);
  const values = new Array<number>(n);
  for (let i = 0; i < n; i++) values[i] = Number(((next() - 0.5) * 8).toPrecision(6));
  return values;
}

/** Raw little-endian float32 bytes of n sample values. */
export function float32Body(n: number, seed = 1): Buffer {
  const next = prng(seed);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (next() - 0.5) * 8;
  return Buffer.from(data.buffer);
}
