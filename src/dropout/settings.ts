/**
 * The dropout settings of one request (docs/semantics.md §1), from either body format, checked and normalised: seeds
 * become uint64, offsets are checked against the tensor's size, and a missing train-mode seed is drawn from a CSPRNG.
 */
import { randomBytes } from 'node:crypto';
import { ProblemError, quote } from '../errors.js';
import type { Dtype } from '../kernel/dtype.js';
import { DEFAULT_MODE, DEFAULT_RNG, type Mode, type Rng } from './choices.js';
import type { RawSettings } from './settings-schema.js';
import { parseShapeParam } from './shape.js';
import { DEFAULT_VARIANT, VARIANTS, type Variant } from './variants.js';

export type { Mode, RawSettings, Rng, Variant };

export interface Settings {
  p: number;
  mode: Mode;
  /** uint64 seed; null in eval mode, where no random numbers are used. */
  seed: bigint | null;
  offset: number;
  variant: Variant;
  rng: Rng;
  /** One draw per element of this shape, broadcast over the input; null for one draw per element. */
  noiseShape: number[] | null;
}

const TWO_64 = 2n ** 64n;
const MIN_SEED = -(2n ** 63n);
const MAX_DRAW_INDEX = 2 ** 53;
/**
 * Longer integer strings are refused unread: the longest valid seed is 21 characters, and trimming or parsing a
 * client's megabytes would cost time in proportion to them.
 */
const MAX_INTEGER_CHARS = 40;

/** A seed in [0, 2^64) from a JSON number or a decimal string; negatives down to −2^63 wrap as torch.manual_seed. */
export function parseSeed(value: number | string): bigint {
  let seed: bigint;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new ProblemError(
        'BAD_SEED',
        `seed ${value} is not an integer a JSON number can carry exactly (|seed| ≤ 2^53 − 1); send larger seeds as a decimal string`,
      );
    }
    seed = BigInt(value);
  } else {
    if (value.length > MAX_INTEGER_CHARS || !/^-?\d{1,20}$/.test(value.trim())) {
      throw new ProblemError(
        'BAD_SEED',
        `seed ${quote(value)} must be a decimal integer string, e.g. "42" or "18446744073709551615"`,
      );
    }
    seed = BigInt(value.trim());
  }
  if (seed < MIN_SEED || seed >= TWO_64) {
    throw new ProblemError('BAD_SEED', `seed ${seed} is outside [-2^63, 2^64 − 1]`);
  }
  return seed < 0n ? seed + TWO_64 : seed;
}

/** A fresh uint64 seed from the OS CSPRNG, so an unseeded train request can still be reproduced from its reply. */
export function drawSeed(): bigint {
  return randomBytes(8).readBigUInt64LE(0);
}

export function parseOffset(value: number | string, numel: number): number {
  const text = String(value);
  const offset = text.length <= MAX_INTEGER_CHARS && /^\d{1,16}$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(offset)) {
    throw new ProblemError('BAD_OFFSET', `offset ${quote(value)} must be a non-negative integer`);
  }
  if (offset > MAX_DRAW_INDEX - numel) {
    throw new ProblemError('BAD_OFFSET', `offset ${offset} plus ${numel} elements passes the last draw index 2^53`);
  }
  return offset;
}

/** The torch stream has no jump-ahead: an offset is paid for by generating, so it is bounded. */
export const MAX_TORCH_OFFSET = 2 ** 28;
/** dtypes PyTorch's stream is specified for here (docs/semantics.md §1 and the reference vectors). */
const TORCH_DTYPES: readonly Dtype[] = ['float32', 'float64', 'bfloat16'];

/**
 * The noise shape of a request, by its variant's noise rule (./variants.ts): `channel` variants drop whole channels
 * of (N, C, …), i.e. noise [N, C, 1, …]; otherwise an explicit noise_shape has TensorFlow/Keras semantics (same
 * rank, each dim the input's or 1). null when every element gets its own draw.
 */
export function resolveNoiseShape(
  variant: Variant,
  noise: number[] | string | undefined,
  shape: number[],
): number[] | null {
  const explicit = typeof noise === 'string' ? parseShapeParam(noise) : noise;
  if (VARIANTS[variant].noise === 'channel') {
    if (explicit !== undefined) {
      throw new ProblemError(
        'BAD_NOISE_SHAPE',
        `variant ${variant} sets the noise shape itself; send noise_shape or a feature variant, not both`,
      );
    }
    if (shape.length < 2) {
      throw new ProblemError(
        'BAD_NOISE_SHAPE',
        `variant ${variant} drops whole channels of an (N, C, ...) tensor and needs rank >= 2; the input's shape is [${shape}]`,
      );
    }
    return shape.map((d, k) => (k < 2 ? d : 1));
  }
  if (explicit === undefined) return null;
  if (explicit.length !== shape.length) {
    throw new ProblemError(
      'BAD_NOISE_SHAPE',
      `noise_shape ${quote(explicit)} has rank ${explicit.length} but the input's shape [${shape}] has rank ${shape.length}`,
    );
  }
  explicit.forEach((d, k) => {
    if (d !== shape[k] && d !== 1) {
      throw new ProblemError(
        'BAD_NOISE_SHAPE',
        `noise_shape ${quote(explicit)} dim ${k} is ${d}; each dim must equal the input's (${shape[k]}) or be 1`,
      );
    }
  });
  return explicit.every((d, k) => d === shape[k]) ? null : explicit;
}

export function resolveSettings(raw: RawSettings, shape: number[], dtype: Dtype): Settings {
  const numel = shape.reduce((a, b) => a * b, 1);
  const p = raw.p ?? 0.5;
  if (!(p >= 0 && p <= 1)) throw new ProblemError('P_OUT_OF_RANGE', `p is ${p}; it must be in [0, 1]`);
  const mode = raw.mode ?? DEFAULT_MODE;
  const variant = raw.variant ?? DEFAULT_VARIANT;
  const rng = raw.rng ?? DEFAULT_RNG;
  const gaussian = VARIANTS[variant].kernel === 'gaussian';
  if (gaussian && p === 1) {
    throw new ProblemError(
      'P_OUT_OF_RANGE',
      'gaussian dropout needs p < 1: its σ = sqrt(p / (1 − p)) is infinite at p = 1',
    );
  }
  if (rng === 'torch' && gaussian) {
    throw new ProblemError(
      'UNSUPPORTED_COMBINATION',
      'rng "torch" has no gaussian dropout (PyTorch has none); use rng "philox"',
    );
  }
  if (rng === 'torch' && !TORCH_DTYPES.includes(dtype)) {
    throw new ProblemError(
      'UNSUPPORTED_COMBINATION',
      `rng "torch" supports ${TORCH_DTYPES.join(', ')}, not ${dtype}; use rng "philox"`,
    );
  }
  const noiseShape = resolveNoiseShape(variant, raw.noise_shape, shape);
  const seed = mode === 'eval' ? null : raw.seed === undefined ? drawSeed() : parseSeed(raw.seed);
  if (mode === 'eval' && raw.seed !== undefined) parseSeed(raw.seed);
  const draws = noiseShape === null ? numel : noiseShape.reduce((a, b) => a * b, 1);
  const offset = raw.offset === undefined ? 0 : parseOffset(raw.offset, draws);
  if (rng === 'torch' && offset > MAX_TORCH_OFFSET) {
    throw new ProblemError('BAD_OFFSET', `rng "torch" offsets are at most 2^28 (${MAX_TORCH_OFFSET}); got ${offset}`);
  }
  return { p, mode, seed, offset, variant, rng, noiseShape };
}
