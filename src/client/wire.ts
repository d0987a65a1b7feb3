/** Encoding a call into an HTTP request, and a reply back into a result (docs/semantics.md §2). No I/O here. */
import type { Dtype } from '../kernel/dtype.js';
import { DropoutServiceError, type ProblemDocument } from './error.js';
import type { DropoutSettings, NestedInput, TypedTensor } from './types.js';

export const MEDIA = {
  json: 'application/json',
  binary: 'application/octet-stream',
  problem: 'application/problem+json',
} as const;

const BYTES: Record<Dtype, number> = { float32: 4, float64: 8, float16: 2, bfloat16: 2 };
const DTYPE_NAMES: readonly string[] = Object.keys(BYTES);

/** The API's byte order is little-endian; typed arrays use the platform's. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function decimal(value: number | bigint | string): number | string {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** The settings as API fields (snake_case, bigints as decimal strings), undefined ones left out. */
export function settingsFields(settings: DropoutSettings): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  if (settings.p !== undefined) fields.p = settings.p;
  if (settings.mode !== undefined) fields.mode = settings.mode;
  if (settings.seed !== undefined) fields.seed = decimal(settings.seed);
  if (settings.offset !== undefined) fields.offset = decimal(settings.offset);
  if (settings.variant !== undefined) fields.variant = settings.variant;
  if (settings.rng !== undefined) fields.rng = settings.rng;
  if (settings.noiseShape !== undefined) fields.noise_shape = [...settings.noiseShape];
  return fields;
}

function hasNonFinite(values: NestedInput): boolean {
  for (const v of values) {
    if (typeof v === 'number' ? !Number.isFinite(v) : typeof v === 'object' && hasNonFinite(v)) return true;
  }
  return false;
}

/** The JSON body; NaN and ±Infinity become "NaN", "Infinity", "-Infinity" (JSON has no such numbers). */
export function jsonBody(
  input: NestedInput,
  settings: DropoutSettings,
  extra: { shape?: readonly number[]; dtype?: Dtype; returnMask?: boolean },
): string {
  const body: Record<string, unknown> = { input };
  if (extra.shape !== undefined) body.shape = [...extra.shape];
  if (extra.dtype !== undefined) body.dtype = extra.dtype;
  Object.assign(body, settingsFields(settings));
  if (extra.returnMask) body.return_mask = true;
  if (!hasNonFinite(input)) return JSON.stringify(body);
  return JSON.stringify(body, (_key, value) =>
    typeof value === 'number' && !Number.isFinite(value) ? String(value) : value,
  );
}

/** The dtype a typed array is sent as: implied by Float32Array/Float64Array, named for Uint16Array. */
export function typedDtype(tensor: TypedTensor, requested: Dtype | undefined): Dtype {
  const implied: Dtype | undefined =
    tensor instanceof Float32Array ? 'float32' : tensor instanceof Float64Array ? 'float64' : undefined;
  if (implied !== undefined) {
    if (requested !== undefined && requested !== implied) {
      throw new TypeError(`a ${tensor.constructor.name} holds ${implied} values, not ${requested}`);
    }
    return implied;
  }
  if (tensor instanceof Uint16Array && (requested === 'float16' || requested === 'bfloat16')) return requested;
  if (tensor instanceof Uint16Array) {
    throw new TypeError('a Uint16Array holds 16-bit bit patterns: pass dtype "float16" or "bfloat16"');
  }
  throw new TypeError('the tensor must be an array, a Float32Array, a Float64Array or a Uint16Array');
}

function swapBytes(bytes: Uint8Array, width: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += width) {
    for (let j = 0; j < width; j++) out[i + j] = bytes[i + width - 1 - j];
  }
  return out;
}

/** The raw little-endian bytes of a typed array (its own memory on little-endian hosts). */
export function typedBytes(tensor: TypedTensor): Uint8Array<ArrayBuffer> {
  const view = new Uint8Array(tensor.buffer, tensor.byteOffset, tensor.byteLength);
  if (!LITTLE_ENDIAN) return swapBytes(view, tensor.BYTES_PER_ELEMENT) as Uint8Array<ArrayBuffer>;
  // fetch sends ArrayBuffer-backed views only (not SharedArrayBuffer ones): copy those.
  return view.buffer instanceof ArrayBuffer ? (view as Uint8Array<ArrayBuffer>) : new Uint8Array(view);
}

/** The query of a binary request: the shape, the dtype and the settings. */
export function binaryQuery(
  settings: DropoutSettings,
  shape: readonly number[] | undefined,
  dtype: Dtype,
): URLSearchParams {
  const query = new URLSearchParams();
  if (shape !== undefined) query.set('shape', shape.join(','));
  query.set('dtype', dtype);
  for (const [key, value] of Object.entries(settingsFields(settings))) {
    query.set(key, Array.isArray(value) ? value.join(',') : String(value));
  }
  return query;
}

function unexpected(response: Response, detail: string): DropoutServiceError {
  return new DropoutServiceError({
    status: response.status,
    code: 'UNEXPECTED_RESPONSE',
    title: 'The reply is not what the API promises',
    detail,
  });
}

function retryAfterSeconds(header: string | null): number | undefined {
  if (header === null) return undefined;
  if (/^\s*\d+\s*$/.test(header)) return Number(header);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

function isProblem(value: unknown): value is ProblemDocument {
  const doc = value as Partial<ProblemDocument> | null;
  return typeof doc === 'object' && doc !== null && typeof doc.code === 'string' && typeof doc.status === 'number';
}

/** The error for a non-2xx reply: the problem document's fields, or UNEXPECTED_RESPONSE when there is none. */
export async function errorFrom(response: Response): Promise<DropoutServiceError> {
  const text = await response.text().catch(() => '');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    doc = undefined;
  }
  const retryAfter = retryAfterSeconds(response.headers.get('retry-after'));
  if (!isProblem(doc)) {
    const error = unexpected(response, `HTTP ${response.status} ${response.statusText}: ${text.slice(0, 200)}`);
    return Object.assign(error, { retryAfter });
  }
  return new DropoutServiceError({
    status: response.status,
    code: doc.code,
    title: String(doc.title ?? ''),
    detail: String(doc.detail ?? ''),
    type: doc.type,
    requestId: doc.requestId ?? response.headers.get('x-request-id') ?? undefined,
    retryAfter,
    problem: doc,
  });
}

const NON_FINITE: Record<string, number> = {
  NaN: Number.NaN,
  Infinity: Number.POSITIVE_INFINITY,
  '-Infinity': -Infinity,
};

/** Replaces the API's "NaN"/"Infinity"/"-Infinity" strings with numbers, in place. */
function reviveValues(values: unknown): unknown {
  if (typeof values === 'string') return NON_FINITE[values] ?? values;
  if (Array.isArray(values)) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v !== 'number') values[i] = reviveValues(v);
    }
  }
  return values;
}

export async function readJsonResult(response: Response): Promise<Record<string, unknown>> {
  const type = response.headers.get('content-type') ?? '';
  if (!type.startsWith(MEDIA.json)) throw unexpected(response, `expected ${MEDIA.json}, got "${type}"`);
  let reply: unknown;
  try {
    reply = JSON.parse(await response.text());
  } catch (cause) {
    throw unexpected(response, `the JSON reply does not parse: ${(cause as Error).message}`);
  }
  const result = reply as Record<string, unknown> | null;
  if (typeof result !== 'object' || result === null || !('output' in result) || !Array.isArray(result.shape)) {
    throw unexpected(response, 'the JSON reply has no output or shape');
  }
  result.output = reviveValues(result.output);
  return result;
}

function header(response: Response, name: string): string {
  const value = response.headers.get(name);
  if (value === null) throw unexpected(response, `the binary reply has no ${name} header`);
  return value;
}

export async function readBinaryResult(response: Response) {
  const type = response.headers.get('content-type') ?? '';
  if (!type.startsWith(MEDIA.binary)) throw unexpected(response, `expected ${MEDIA.binary}, got "${type}"`);
  const dtype = header(response, 'tensor-dtype') as Dtype;
  if (!DTYPE_NAMES.includes(dtype)) throw unexpected(response, `unknown Tensor-Dtype "${dtype}"`);
  const shapeText = header(response, 'tensor-shape').trim();
  const shape = shapeText === '' ? [] : shapeText.split(',').map((d) => Number(d.trim()));
  let bytes = new Uint8Array(await response.arrayBuffer());
  const width = BYTES[dtype];
  const length = shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== length * width) {
    throw unexpected(response, `${bytes.length} bytes do not hold shape [${shape}] of ${dtype}`);
  }
  if (!LITTLE_ENDIAN) bytes = swapBytes(bytes, width) as Uint8Array<ArrayBuffer>;
  const data =
    dtype === 'float32'
      ? new Float32Array(bytes.buffer, bytes.byteOffset, length)
      : dtype === 'float64'
        ? new Float64Array(bytes.buffer, bytes.byteOffset, length)
        : new Uint16Array(bytes.buffer, bytes.byteOffset, length);
  return {
    data,
    shape,
    dtype,
    seed: response.headers.get('dropout-seed'),
    kept: Number(header(response, 'dropout-kept')),
    offset: Number(response.headers.get('dropout-offset') ?? 0),
  };
}
