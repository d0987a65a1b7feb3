/**
 * The JSON reply of POST /v1/dropout (API.md §2), written as bytes. Pure: the main thread uses it for small tensors
 * and a pool worker for large ones, so big replies are serialised off the event loop.
 */
import type { Dtype, TensorData } from '../kernel/dtype.js';
import { JsonWriter } from './json-writer.js';
import type { Mode, Rng, Variant } from './settings.js';

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

/** Writes n items nested like `shape` (or flat), calling item(i) for each in row-major order. */
function writeArray(w: JsonWriter, shape: number[], nested: boolean, n: number, item: (i: number) => void): void {
  if (!nested || shape.length <= 1) {
    w.byte(OPEN);
    for (let i = 0; i < n; i++) {
      if (i > 0) w.byte(COMMA);
      item(i);
    }
    w.byte(CLOSE);
    return;
  }
  let next = 0;
  const emit = (depth: number): void => {
    w.byte(OPEN);
    const last = depth === shape.length - 1;
    for (let i = 0; i < shape[depth]; i++) {
      if (i > 0) w.byte(COMMA);
      if (last) item(next++);
      else emit(depth + 1);
    }
    w.byte(CLOSE);
  };
  emit(0);
}

export function writeDropoutReply(tensor: ReplyTensor, echo: ReplyEcho, mask?: Uint8Array): Uint8Array {
  const { data, shape, nested } = tensor;
  const w = new JsonWriter(data.length * (tensor.dtype === 'float64' ? 20 : 12) + 256);
  w.ascii('{"output":');
  const write = w.writerFor(tensor.dtype);
  writeArray(w, shape, nested, data.length, (i) => write(data[i]));
  w.ascii(
    `,"shape":${JSON.stringify(shape)},"dtype":"${tensor.dtype}","p":${JSON.stringify(echo.p)},"mode":"${echo.mode}",` +
      `"variant":"${echo.variant}","rng":"${echo.rng}","seed":${echo.seed === null ? 'null' : `"${echo.seed}"`},` +
      `"offset":${echo.offset},"kept":${echo.kept}`,
  );
  if (mask) {
    w.ascii(',"mask":');
    writeArray(w, shape, nested, mask.length, (i) => w.bool(mask[i] === 1));
  }
  w.byte(125);
  return w.bytes();
}
