/**
 * Conveniences over src/'s tensor code that only the tests need: not references (those are in ./reference.ts, and
 * share nothing with src/), just shorter ways to read a tensor's values and to write one as a file.
 */
import { encodeNpyParts } from '../src/codec/npy.js';
import type { Dtype, TensorData } from '../src/kernel/dtype.js';
import { bf16ToNumber, f16ToNumber } from '../src/kernel/half.js';

/** How a stored element of `dtype` reads back as a number (16-bit types are held as their bits). */
export function decoderFor(dtype: Dtype): (stored: number) => number {
  if (dtype === 'float16') return f16ToNumber;
  if (dtype === 'bfloat16') return bf16ToNumber;
  return (x) => x;
}

/** A tensor as one .npy file, header and data in one new buffer: np.save's bytes. */
export function encodeNpy(tensor: { shape: number[]; dtype: Dtype; data: TensorData }): Uint8Array {
  const { header, body } = encodeNpyParts(tensor);
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  return out;
}
