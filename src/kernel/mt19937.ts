/**
 * MT19937, the 32-bit Mersenne Twister behind PyTorch's default CPU generator (at::mt19937), seeded as
 * torch.manual_seed seeds it: with the seed's low 32 bits through the reference init_genrand recurrence.
 */
import { torchKeepMaskWasm, wasmMtSupported } from './wasm-mt19937.js';

const N = 624;
const M = 397;
const UPPER = 0x80000000;
const LOWER = 0x7fffffff;
const MATRIX_A = 0x9908b0df;

export class Mt19937 {
  readonly #state = new Uint32Array(N);
  #index = N;

  constructor(seed: bigint) {
    const s = this.#state;
    s[0] = Number(seed & 0xffffffffn);
    for (let i = 1; i < N; i++) {
      const prev = s[i - 1] ^ (s[i - 1] >>> 30);
      s[i] = Math.imul(1812433253, prev) + i;
    }
  }

  #twist(): void {
    const s = this.#state;
    for (let i = 0; i < N; i++) {
      const y = (s[i] & UPPER) | (s[(i + 1) % N] & LOWER);
      s[i] = s[(i + M) % N] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    this.#index = 0;
  }

  /** The next 32-bit output. */
  next(): number {
    if (this.#index >= N) this.#twist();
    let y = this.#state[this.#index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** Skips `count` outputs (the stream has no jump-ahead cheaper than generating). */
  skip(count: number): void {
    for (let left = count; left > 0; ) {
      if (this.#index >= N) this.#twist();
      const step = Math.min(left, N - this.#index);
      this.#index += step;
      left -= step;
    }
  }
}

const TWO_32 = 4294967296;
const TWO_M53 = 2 ** -53;

/**
 * Keep decisions of torch.bernoulli_(1 − p) on the default CPU path: per element two outputs r1, r2 give
 * u = ((r1 & 0x1fffff)·2^32 + r2)·2^−53 in [0, 1), kept when u < 1 − p (docs/semantics.md §1 rng "torch").
 */
export function torchKeepMask(seed: bigint, offset: number, count: number, p: number, keep: Uint8Array): number {
  const mt = new Mt19937(seed);
  mt.skip(2 * offset);
  const q = 1 - p;
  let kept = 0;
  for (let i = 0; i < count; i++) {
    const r1 = mt.next();
    const r2 = mt.next();
    const u = ((r1 & 0x1fffff) * TWO_32 + r2) * TWO_M53;
    const k = u < q ? 1 : 0;
    keep[i] = k;
    kept += k;
  }
  return kept;
}

/** torchKeepMask on the WebAssembly SIMD module (./wasm-mt19937.ts, the same bytes) when this runtime runs it. */
export const torchKeepMaskFast: typeof torchKeepMask = wasmMtSupported() ? torchKeepMaskWasm : torchKeepMask;
