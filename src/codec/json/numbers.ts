/**
 * The WebAssembly reader of ./wasm/json-numbers.as.ts: the text of a JSON `input` value (nested arrays of numbers
 * and "NaN"/"Infinity"/"-Infinity") → its shape and float64 values, the same values JSON.parse gives. It refuses
 * (undefined) whatever it cannot read exactly, and callers then take the JSON.parse path, which also words the
 * error; so refusing is always safe and only slower.
 */
import { copyBytes } from '../../kernel/copy-bytes.js';
import { wasmModule } from '../../kernel/wasm-module.js';

interface NumbersExports {
  memory: { buffer: ArrayBuffer };
  inPtr(): number;
  inCapacity(): number;
  inPadding(): number;
  outPtr(): number;
  outCapacity(): number;
  begin(rankLimit: number, countLimit: number): void;
  parse(length: number, last: number): number;
  consumed(): number;
  produced(): number;
  rank(): number;
  dim(depth: number): number;
}

const DONE = 1;

interface Reader {
  exports: NumbersExports;
  capacity: number;
  input: Buffer;
  output: Float64Array;
}

export interface ParsedNumbers {
  /** Offset just past the value's closing bracket. */
  end: number;
  /** Rank ≥ 1 (the value is an array); a rank-1 shape is the flat length. */
  shape: number[];
  count: number;
  /** The values in order, in pieces of at most one chunk's worth. */
  chunks: Float64Array[];
}

// Resolved against this file so the same code finds the module under tsx (src/) and after `npm run build` (dist/).
const module = wasmModule<NumbersExports>(new URL('./wasm/json-numbers.wasm', import.meta.url));
let reader: Reader | undefined;

function instance(): Reader | undefined {
  if (reader) return reader;
  if (!module.supported()) return undefined;
  const exports = module.exports();
  const capacity = exports.inCapacity();
  // The module never grows its memory, so these views stay valid for the instance's life.
  const { buffer } = exports.memory;
  reader = {
    exports,
    capacity,
    input: Buffer.from(buffer, exports.inPtr(), capacity + exports.inPadding()),
    output: new Float64Array(buffer, exports.outPtr(), exports.outCapacity()),
  };
  return reader;
}

/**
 * Reads the array value that starts at `text[start]` (a `[`). `chunkBytes` (tests) makes the chunks smaller than
 * the module's buffer, so that tokens straddle chunk boundaries often; a token longer than a chunk is refused.
 */
export function parseJsonNumbers(
  text: Uint8Array,
  start: number,
  maxRank: number,
  maxElements: number,
  chunkBytes?: number,
): ParsedNumbers | undefined {
  const r = instance();
  if (!r || text[start] !== 0x5b) return undefined;
  const { exports, input, output } = r;
  const capacity = Math.min(chunkBytes ?? r.capacity, r.capacity);
  exports.begin(Math.min(maxRank, 0x7fffffff), Math.min(maxElements, 0x7fffffff));
  const chunks: Float64Array[] = [];
  let count = 0;
  // `next` is the first byte of `text` not yet copied in; `held` bytes wait at the front of the input buffer.
  let next = start;
  let held = 0;
  for (;;) {
    const take = Math.min(capacity - held, text.length - next);
    // The body is usually in shared memory: a native memcpy, not V8's relaxed copy (see copy-bytes.ts).
    copyBytes(input, held, text.subarray(next, next + take));
    next += take;
    held += take;
    // Zeros past the text stop every scan in the module (see IN_PAD there).
    input.fill(0, held, held + (input.length - r.capacity));
    const last = next === text.length;
    const status = exports.parse(held, last ? 1 : 0);
    if (status < 0) return undefined;
    const produced = exports.produced();
    if (produced > 0) {
      chunks.push(output.slice(0, produced));
      count += produced;
    }
    const used = exports.consumed();
    if (status === DONE) {
      const rank = exports.rank();
      const shape: number[] = [];
      for (let d = 1; d <= rank; d++) shape.push(exports.dim(d));
      return { end: next - held + used, shape, count, chunks };
    }
    // No progress: one token fills the whole chunk (or the text ended inside the value).
    if (last || (used === 0 && held === capacity)) return undefined;
    input.copyWithin(0, used, held);
    held -= used;
  }
}
