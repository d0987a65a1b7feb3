/**
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), as Random123 defines it.
 * Counter-based: any block of the stream is computed directly from (counter, key), which is what lets a tensor be
 * split across workers, chunks or replicas and still give the same bytes.
 */
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const M0_HI = M0 >>> 16;
const M0_LO = M0 & 0xffff;
const M1_HI = M1 >>> 16;
const M1_LO = M1 & 0xffff;
const TWO_16 = 65536;
const TWO_32 = 4294967296;

/**
 * High 32 bits of a·M for uint32 a and a 16-bit-split multiplier M. Doubles hold each partial product exactly
 * (< 2^48), which is cheaper in V8 than four 16×16 multiplies or BigInt.
 */
function mulhi(a: number, mHi: number, mLo: number): number {
  const u = a * mHi;
  const t = a * mLo;
  const uh = Math.floor(u / TWO_16);
  return (uh + Math.floor(((u - uh * TWO_16) * TWO_16 + t) / TWO_32)) >>> 0;
}

/** Writes Philox4x32-10(counter, key) into out[0..3] as uint32 values. */
export function philox4x32(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
): void {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = c2 >>> 0;
  let x3 = c3 >>> 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi(x0, M0_HI, M0_LO);
    const lo0 = Math.imul(x0, M0) >>> 0;
    const hi1 = mulhi(x2, M1_HI, M1_LO);
    const lo1 = Math.imul(x2, M1) >>> 0;
    x0 = (hi1 ^ x1 ^ key0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ key1) >>> 0;
    x3 = lo0;
    key0 = (key0 + W0) >>> 0;
    key1 = (key1 + W1) >>> 0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
}

/** The Philox key for a 64-bit seed: (seed mod 2^32, floor(seed / 2^32)). */
export function philoxKey(seed: bigint): [number, number] {
  return [Number(seed & 0xffffffffn), Number((seed >> 32n) & 0xffffffffn)];
}
