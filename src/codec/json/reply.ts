/**
 * The JSON reply of POST /v1/dropout (docs/semantics.md §2), written as bytes. Pure: the main thread uses it for small
 * tensors and a pool worker for large ones, so big replies are serialised off the event loop.
 */

import type { Mode, Rng, Variant } from '../../dropout/settings.js';
import type { Dtype, TensorData } from '../../kernel/dtype.js';
import { JsonWriter } from './writer.js';

export interface ReplyTensor {
  data: TensorData;
  shape: number[];
  dtype: Dtype;
  /** Nest the values by shape (true) or write them flat. */
  nested: boolean;
}

/** The settings as the reply echoes them; plain data so it can cross to a worker. */
export interface ReplyEcho {
  p: number;
  mode: Mode;
  variant: Variant;
  rng: Rng;
  /** Decimal seed, or null in eval mode. */
  seed: string | null;
  offset: number;
  kept: number;
}

const COMMA = 44;
const OPEN = 91;
const CLOSE = 93;

/**
 * Writes n items nested like `shape` (or flat) in row-major order: run(start, count) writes `count` consecutive
 * items, comma-separated, for each innermost array (or once for all n), so rows of values go to the writer as runs.
 */
function writeArray(
  w: JsonWriter,
  shape: number[],
  nested: boolean,
  n: number,
  run: (start: number, count: number) => void,
): void {
  // A 0-d tensor is its one value, as NumPy's and PyTorch's tolist() give it.
  if (shape.length === 0 && n === 1) {
    run(0, 1);
    return;
  }
  if (!nested || shape.length <= 1) {
    w.byte(OPEN);
    run(0, n);
    w.byte(CLOSE);
    return;
  }
  const last = shape.length - 1;
  const row = shape[last];
  let next = 0;
  const emit = (depth: number): void => {
    w.byte(OPEN);
    if (depth === last) {
      run(next, row);
      next += row;
    } else {
      for (let i = 0; i < shape[depth]; i++) {
        if (i > 0) w.byte(COMMA);
        emit(depth + 1);
      }
    }
    w.byte(CLOSE);
  };
  emit(0);
}

/** A run writer from a one-item writer: item(i) for each i, comma-separated. */
function itemRun(w: JsonWriter, item: (i: number) => void): (start: number, count: number) => void {
  return (start, count) => {
    for (let i = 0; i < count; i++) {
      if (i > 0) w.byte(COMMA);
      item(start + i);
    }
  };
}

/** The members after "output": the tensor's shape and dtype, then the settings echoed back, each after a comma. */
export function echoMembers(shape: number[], dtype: Dtype, echo: ReplyEcho): string {
  return (
    `,"shape":${JSON.stringify(shape)},"dtype":"${dtype}","p":${JSON.stringify(echo.p)},"mode":"${echo.mode}",` +
    `"variant":"${echo.variant}","rng":"${echo.rng}","seed":${echo.seed === null ? 'null' : `"${echo.seed}"`},` +
    `"offset":${echo.offset},"kept":${echo.kept}`
  );
}

export function writeDropoutReply(tensor: ReplyTensor, echo: ReplyEcho, mask?: Uint8Array): Uint8Array {
  const { data, shape, nested } = tensor;
  const w = new JsonWriter(data.length * (tensor.dtype === 'float64' ? 20 : 12) + 256);
  w.ascii('{"output":');
  writeArray(w, shape, nested, data.length, w.runFor(tensor.dtype, data));
  w.ascii(echoMembers(shape, tensor.dtype, echo));
  if (mask) {
    w.ascii(',"mask":');
    const flags = itemRun(w, (i) => w.bool(mask[i] === 1));
    writeArray(w, shape, nested, mask.length, flags);
  }
  w.byte(125);
  return w.bytes();
}
