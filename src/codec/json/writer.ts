/**
 * Builds JSON replies as bytes: tensor values are written digit by digit into one growing buffer, which avoids a
 * JavaScript string per number (String(double) alone costs ~150 ns). The numbers are those of ./float-format.ts in
 * JavaScript's own Number#toString layout, so the output equals what JSON.stringify would print for the same
 * decimal, except negative zero: -0.0 (JSON.stringify drops the sign).
 */
import type { Dtype, TensorData } from '../../kernel/dtype.js';
import { bf16ToNumber, f16ToNumber } from '../../kernel/half.js';
import {
  type DecimalParts,
  formatFloat64,
  NEGATIVE_ZERO,
  shortestFloat32BySearch,
  shortestFloat32Parts,
} from './float-format.js';
import { float32Json } from './float32.js';

const ZERO = 48;
const COMMA = 44;
// Below this many values (or bytes), element-by-element copies beat creating subarray views.
const SHORT_RUN = 16;
const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NAN = Buffer.from('"NaN"');
const INF = Buffer.from('"Infinity"');
const NEG_INF = Buffer.from('"-Infinity"');
// 16-bit values per decode into the float32 scratch of halfRun: big enough to amortise a WebAssembly call.
const HALF_CHUNK = 4096;

export class JsonWriter {
  #bytes: Uint8Array;
  #length = 0;
  readonly #parts: DecimalParts = { digits: 0, scale: 0 };
  readonly #digits = new Uint8Array(10);
  #halves: Float32Array | undefined;

  constructor(capacity = 1024) {
    this.#bytes = new Uint8Array(capacity);
  }

  #reserve(extra: number): void {
    if (this.#length + extra <= this.#bytes.length) return;
    const grown = new Uint8Array(Math.max(this.#bytes.length * 2, this.#length + extra));
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
  }

  byte(code: number): void {
    this.#reserve(1);
    this.#bytes[this.#length++] = code;
  }

  /** ASCII text (JSON punctuation, keys, digits). */
  ascii(text: string): void {
    this.#reserve(text.length);
    for (let i = 0; i < text.length; i++) this.#bytes[this.#length++] = text.charCodeAt(i);
  }

  raw(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#bytes.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  bool(value: boolean): void {
    this.raw(value ? TRUE : FALSE);
  }

  #nonFinite(v: number): boolean {
    if (Number.isFinite(v)) return false;
    this.raw(Number.isNaN(v) ? NAN : v > 0 ? INF : NEG_INF);
    return true;
  }

  float64(v: number): void {
    if (!this.#nonFinite(v)) this.ascii(formatFloat64(v));
  }

  float32(v: number): void {
    if (this.#nonFinite(v)) return;
    if (v === 0) {
      this.ascii(Object.is(v, -0) ? NEGATIVE_ZERO : '0');
      return;
    }
    if (!shortestFloat32Parts(Math.abs(v), this.#parts)) {
      this.ascii(String(shortestFloat32BySearch(v)));
      return;
    }
    if (v < 0) this.byte(45);
    this.#decimal(this.#parts.digits, this.#parts.scale);
  }

  /**
   * values[start … start + count) as float32() writes each, comma-separated: through the WebAssembly formatter
   * (./float32.ts) where it runs, several times faster, else value by value.
   */
  float32Run(values: Float32Array, start: number, count: number): void {
    const wasm = float32Json();
    if (!wasm) {
      for (let i = 0; i < count; i++) {
        if (i > 0) this.byte(COMMA);
        this.float32(values[start + i]);
      }
      return;
    }
    const { input, output, capacity } = wasm;
    for (let done = 0; done < count; ) {
      const n = Math.min(capacity, count - done);
      const from = start + done;
      if (n < SHORT_RUN) for (let i = 0; i < n; i++) input[i] = values[from + i];
      else input.set(values.subarray(from, from + n));
      const length = wasm.format(n);
      this.#reserve(length + 1);
      if (done > 0) this.#bytes[this.#length++] = COMMA;
      if (length < SHORT_RUN) for (let i = 0; i < length; i++) this.#bytes[this.#length + i] = output[i];
      else this.#bytes.set(output.subarray(0, length), this.#length);
      this.#length += length;
      done += n;
    }
  }

  /**
   * A 16-bit value (given as its bits) as float32() writes it: every float16 and bfloat16 value is an exact float32,
   * so the float32 shortest form reads back exactly wherever a client parses into float32 or float64, which the
   * shortest 16-bit form does not.
   */
  half(bits: number, decode: (bits: number) => number): void {
    this.float32(decode(bits));
  }

  /** bits[start … start + count) as half() writes each, comma-separated: decoded to float32, then float32Run. */
  halfRun(bits: Uint16Array, start: number, count: number, decode: (bits: number) => number): void {
    this.#halves ??= new Float32Array(HALF_CHUNK);
    const values = this.#halves;
    for (let done = 0; done < count; ) {
      const n = Math.min(HALF_CHUNK, count - done);
      for (let i = 0; i < n; i++) values[i] = decode(bits[start + done + i]);
      if (done > 0) this.byte(COMMA);
      this.float32Run(values, 0, n);
      done += n;
    }
  }

  /** The writer of one stored element of `dtype`. */
  writerFor(dtype: Dtype): (stored: number) => void {
    switch (dtype) {
      case 'float32':
        return (v) => this.float32(v);
      case 'float64':
        return (v) => this.float64(v);
      case 'float16':
        return (bits) => this.half(bits, f16ToNumber);
      case 'bfloat16':
        return (bits) => this.half(bits, bf16ToNumber);
    }
  }

  /**
   * The writer of runs of `data` (stored elements of `dtype`): run(start, count) writes data[start … start + count)
   * comma-separated, the same bytes as writerFor(dtype) item by item; float32 and the 16-bit dtypes in WebAssembly.
   */
  runFor(dtype: Dtype, data: TensorData): (start: number, count: number) => void {
    switch (dtype) {
      case 'float32':
        return (start, count) => this.float32Run(data as Float32Array, start, count);
      case 'float16':
        return (start, count) => this.halfRun(data as Uint16Array, start, count, f16ToNumber);
      case 'bfloat16':
        return (start, count) => this.halfRun(data as Uint16Array, start, count, bf16ToNumber);
      case 'float64':
        return (start, count) => {
          for (let i = 0; i < count; i++) {
            if (i > 0) this.byte(COMMA);
            this.float64(data[start + i]);
          }
        };
    }
  }

  /** digits · 10^−scale laid out as Number#toString does (fixed from 1e−7 to 1e21, else exponential). */
  #decimal(digits: number, scale: number): void {
    const d = this.#digits;
    let count = 0;
    for (let r = digits; r > 0; r = Math.floor(r / 10)) d[count++] = ZERO + (r % 10);
    // d holds the digits least significant first; the decimal point sits after `point` leading digits.
    const point = count - scale;
    this.#reserve(count + 30);
    const out = this.#bytes;
    let at = this.#length;
    if (point >= count && point <= 21) {
      for (let i = count - 1; i >= 0; i--) out[at++] = d[i];
      for (let i = count; i < point; i++) out[at++] = ZERO;
    } else if (point > 0 && point <= 21) {
      for (let i = count - 1; i >= count - point; i--) out[at++] = d[i];
      out[at++] = 46;
      for (let i = count - point - 1; i >= 0; i--) out[at++] = d[i];
    } else if (point > -6 && point <= 0) {
      out[at++] = ZERO;
      out[at++] = 46;
      for (let i = 0; i < -point; i++) out[at++] = ZERO;
      for (let i = count - 1; i >= 0; i--) out[at++] = d[i];
    } else {
      out[at++] = d[count - 1];
      if (count > 1) {
        out[at++] = 46;
        for (let i = count - 2; i >= 0; i--) out[at++] = d[i];
      }
      out[at++] = 101;
      const e = point - 1;
      out[at++] = e < 0 ? 45 : 43;
      const text = String(Math.abs(e));
      for (let i = 0; i < text.length; i++) out[at++] = text.charCodeAt(i);
    }
    this.#length = at;
  }

  /** The bytes written so far (a view, not a copy). */
  bytes(): Uint8Array {
    return this.#bytes.subarray(0, this.#length);
  }
}
