/**
 * The fuzz oracle: from a request alone, what the service must answer, written from docs/semantics.md and the README
 * rather than from src/. A verdict lists the problem codes that correctly describe what is wrong with the request (the
 * service may report any one of them: checks run in some order and the first failing one answers) and, when nothing
 * is definitely wrong, the success the service must produce instead. Where the contract leaves a choice (a seed
 * string with surrounding spaces, a query number written as "0x1", an Accept header that is not a media range)
 * both the refusal and the lenient success are listed, and a success is still checked to the byte.
 */
import {
  DTYPES,
  type Dtype,
  decodeValues as decodeBytes,
  type Format,
  type Mode,
  type Rng,
  roundTo,
  type SettingsSpec,
  SIZE,
  type TensorSpec,
  V2_DATATYPES,
  VARIANTS,
  type Variant,
} from './expect.js';
import { claimValues, judgeNpy } from './npy.js';

export interface Limits {
  maxElements: number;
  maxBodyBytes: number;
  maxRank: number;
}

/** HTTP status of each problem code (docs/semantics.md §4.1; errors.ts is not consulted). */
export const STATUS: Record<string, number> = {
  INVALID_REQUEST: 400,
  MALFORMED_JSON: 400,
  P_OUT_OF_RANGE: 400,
  BAD_SEED: 400,
  BAD_OFFSET: 400,
  BAD_SHAPE: 400,
  SHAPE_MISMATCH: 400,
  RAGGED_ARRAY: 400,
  NON_NUMERIC: 400,
  BAD_BINARY_LENGTH: 400,
  BAD_NPY: 400,
  BAD_NOISE_SHAPE: 400,
  UNSUPPORTED_COMBINATION: 400,
  NOT_FOUND: 404,
  NOT_ACCEPTABLE: 406,
  TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNSUPPORTED_DTYPE: 415,
};

export interface OkSpec {
  tensor: TensorSpec;
  settings: SettingsSpec;
  /** JSON replies nest the output by shape (nested JSON input, binary or .npy input) or write it flat. */
  nested: boolean;
  wantMask: boolean;
  /** The reply formats the service may choose (v1). */
  formats: Format[];
}

export class Verdict {
  readonly codes = new Set<string>();
  /** Any 4xx problem code is right (the request's fault is in bytes the contract gives no meaning to). */
  anyCode = false;
  definite = false;
  ok: OkSpec | null = null;
  readonly why: string[] = [];

  /** Something is definitely wrong: the service must refuse with one of the listed codes. */
  fail(code: string, why: string): this {
    this.codes.add(code);
    this.definite = true;
    this.why.push(`${code}: ${why}`);
    return this;
  }

  /** The service may refuse with this code, or succeed as `ok` says. */
  maybe(code: string, why: string): this {
    this.codes.add(code);
    this.why.push(`maybe ${code}: ${why}`);
    return this;
  }

  get failed(): boolean {
    return this.definite;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Shared rules

const MAX_DRAW = 2 ** 53;
const MAX_TORCH_OFFSET = 2 ** 28;
const TWO_64 = 2n ** 64n;

/** JSON Schema "integer" / "number" as Ajv checks them (strictNumbers: no NaN, no ±Infinity). */
export const isJsonInteger = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isJsonNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Checks dims against the limits: BAD_SHAPE (rank, non-integers, negatives), TOO_LARGE (element count). */
export function dimsProblem(dims: readonly number[], limits: Limits): string | null {
  if (dims.length > limits.maxRank) return 'BAD_SHAPE';
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) return 'BAD_SHAPE';
  if (dims.includes(0)) return null;
  const count = dims.reduce((a, d) => a * BigInt(d), 1n);
  return count > BigInt(limits.maxElements) ? 'TOO_LARGE' : null;
}

function count(dims: readonly number[]): number {
  return dims.reduce((a, d) => a * d, 1);
}

/** A comma-separated dims parameter: strict digits, or a lenient form with spaces (either outcome is right). */
export function parseDimsText(text: string): { dims: number[]; lenient: boolean } | null {
  if (text === '') return { dims: [], lenient: false };
  if (/^\d+(,\d+)*$/.test(text)) return { dims: text.split(',').map(Number), lenient: false };
  if (text.trim() === '') return { dims: [], lenient: true };
  if (/^\s*\d+(\s*,\s*\d+)*\s*$/.test(text))
    return { dims: text.split(',').map((d) => Number(d.trim())), lenient: true };
  return null;
}

/** A seed as JSON (number or string) or query text. */
export function judgeSeed(v: unknown, verdict: Verdict): bigint | undefined {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) {
      verdict.fail('BAD_SEED', `seed ${v} is not a safe integer`);
      return undefined;
    }
    return v < 0 ? BigInt(v) + TWO_64 : BigInt(v);
  }
  if (typeof v !== 'string') {
    verdict.fail('BAD_SEED', `seed ${JSON.stringify(v)} is not a number or string`);
    return undefined;
  }
  const strict = /^-?\d{1,20}$/.test(v);
  const trimmed = v.trim();
  if (!strict && !/^-?\d{1,20}$/.test(trimmed)) {
    verdict.fail('BAD_SEED', `seed ${JSON.stringify(v)} is not a decimal integer`);
    return undefined;
  }
  const seed = BigInt(trimmed);
  if (seed < -(2n ** 63n) || seed >= TWO_64) {
    verdict.fail('BAD_SEED', `seed ${seed} out of range`);
    return undefined;
  }
  if (!strict) verdict.maybe('BAD_SEED', `seed ${JSON.stringify(v)} has surrounding white space`);
  return seed < 0n ? seed + TWO_64 : seed;
}

/** An offset as JSON (integer ≥ 0 or string) or query text; `draws` is the number of noise elements. */
function judgeOffset(v: unknown, draws: number, rng: Rng, verdict: Verdict): number | undefined {
  let text: string;
  if (typeof v === 'number') {
    text = String(v);
  } else if (typeof v === 'string') {
    text = v;
  } else {
    verdict.fail('BAD_OFFSET', `offset ${JSON.stringify(v)}`);
    return undefined;
  }
  const strict = /^\d{1,16}$/.test(text);
  const trimmed = text.trim();
  if (!strict && !/^\d+$/.test(trimmed)) {
    verdict.fail('BAD_OFFSET', `offset ${JSON.stringify(v)} is not a non-negative integer`);
    return undefined;
  }
  const offset = Number(trimmed);
  if (!Number.isSafeInteger(offset) || offset > MAX_DRAW - draws) {
    verdict.fail('BAD_OFFSET', `offset ${trimmed} + ${draws} draws passes 2^53`);
    return undefined;
  }
  if (rng === 'torch' && offset > MAX_TORCH_OFFSET) {
    verdict.fail('BAD_OFFSET', `torch offset ${offset} over 2^28`);
    return undefined;
  }
  if (!strict) verdict.maybe('BAD_OFFSET', `offset ${JSON.stringify(v)} is not written as 1–16 plain digits`);
  return offset;
}

interface RawSettings {
  p?: number;
  mode?: Mode;
  seed?: unknown;
  offset?: unknown;
  variant?: Variant;
  rng?: Rng;
  /** JSON: dims (schema-checked); query / v2 string: text. */
  noise?: number[] | string;
}

/**
 * The settings phase (docs/semantics.md §1), once the tensor is known; undefined when something is definitely wrong.
 */
function judgeSettings(raw: RawSettings, tensor: TensorSpec, verdict: Verdict): SettingsSpec | undefined {
  const p = raw.p ?? 0.5;
  const mode = raw.mode ?? 'train';
  const variant = raw.variant ?? 'standard';
  const rng = raw.rng ?? 'philox';
  const { shape, dtype } = tensor;
  if (variant === 'gaussian' && p === 1) verdict.fail('P_OUT_OF_RANGE', 'gaussian with p = 1');
  if (rng === 'torch' && variant === 'gaussian') verdict.fail('UNSUPPORTED_COMBINATION', 'torch + gaussian');
  if (rng === 'torch' && dtype === 'float16') verdict.fail('UNSUPPORTED_COMBINATION', 'torch + float16');
  let noiseShape: number[] | null = null;
  let explicit: number[] | undefined;
  if (typeof raw.noise === 'string') {
    const parsed = parseDimsText(raw.noise);
    if (parsed === null) {
      verdict.fail('BAD_SHAPE', `noise_shape text ${JSON.stringify(raw.noise)}`);
      verdict.codes.add('BAD_NOISE_SHAPE');
    } else {
      if (parsed.lenient) verdict.maybe('BAD_SHAPE', 'noise_shape text with spaces').maybe('BAD_NOISE_SHAPE', '');
      explicit = parsed.dims;
    }
  } else {
    explicit = raw.noise;
  }
  if (variant === 'feature' || variant === 'feature_alpha') {
    if (raw.noise !== undefined) verdict.fail('BAD_NOISE_SHAPE', 'feature variant and noise_shape');
    else if (shape.length < 2) verdict.fail('BAD_NOISE_SHAPE', 'feature variant on rank < 2');
    else noiseShape = shape.map((d, k) => (k < 2 ? d : 1));
  } else if (explicit !== undefined) {
    if (explicit.length !== shape.length) verdict.fail('BAD_NOISE_SHAPE', 'noise_shape rank');
    else if (explicit.some((d, k) => d !== shape[k] && d !== 1)) verdict.fail('BAD_NOISE_SHAPE', 'noise_shape dims');
    else if (explicit.some((d, k) => d !== shape[k])) noiseShape = explicit;
  }
  let seed: bigint | undefined;
  if (raw.seed !== undefined) seed = judgeSeed(raw.seed, verdict);
  const draws = noiseShape === null ? count(shape) : count(noiseShape);
  let offset = 0;
  if (raw.offset !== undefined) offset = judgeOffset(raw.offset, draws, rng, verdict) ?? 0;
  if (verdict.failed) return undefined;
  return { p, mode, seed: seed ?? 'drawn', offset, variant, rng, noiseShape };
}

// ---------------------------------------------------------------------------------------------------------------
// Accept

const ACCEPT_TABLE: Record<string, Format | 'none' | 'same'> = {
  '': 'same',
  '*/*': 'same',
  'application/*': 'same',
  'application/json': 'json',
  'application/octet-stream': 'binary',
  'application/x-npy': 'npy',
  'text/html': 'none',
  'text/*': 'none',
  'image/png, text/plain': 'none',
  'application/octet-stream;q=0': 'none',
  'application/json;q=0.5, application/octet-stream': 'binary',
  'application/x-npy, */*;q=0.1': 'npy',
  'application/json, application/x-npy;q=0': 'json',
  'text/plain;q=1, application/json;q=0.1': 'json',
};
export const ACCEPT_VALUES = Object.keys(ACCEPT_TABLE);

/** The reply formats an Accept header allows: one exactly, none (406), or, for text that is no media range, any. */
function acceptFormats(accept: string | undefined, request: Format): Format[] | 'none' | 'unknown' {
  const entry = ACCEPT_TABLE[accept ?? ''];
  if (entry === undefined) return 'unknown';
  if (entry === 'same') return [request];
  if (entry === 'none') return 'none';
  return [entry];
}

/** Accept is negotiated before anything else is read: a 406 may answer whatever else is wrong. */
function acceptFirst(accept: string | undefined, request: Format, verdict: Verdict): void {
  const allowed = acceptFormats(accept, request);
  if (allowed === 'none') verdict.fail('NOT_ACCEPTABLE', `Accept ${accept}`);
  if (allowed === 'unknown')
    verdict.maybe('NOT_ACCEPTABLE', `Accept ${JSON.stringify(accept)} is not a media range list`);
}

/** The Accept phase: 406, or the formats the reply may take (mask and bfloat16 rules applied). */
function judgeReplyFormat(
  accept: string | undefined,
  request: Format,
  wantMask: boolean,
  dtype: Dtype,
  verdict: Verdict,
): Format[] {
  const allowed = acceptFormats(accept, request);
  let formats: Format[];
  if (allowed === 'none') {
    verdict.fail('NOT_ACCEPTABLE', `Accept ${accept}`);
    return [];
  }
  if (allowed === 'unknown') {
    verdict.maybe('NOT_ACCEPTABLE', `Accept ${JSON.stringify(accept)} is not a media range list`);
    formats = ['json', 'binary', 'npy'];
    if (wantMask) verdict.maybe('NOT_ACCEPTABLE', 'mask with a non-JSON reply');
    if (dtype === 'bfloat16') verdict.maybe('UNSUPPORTED_DTYPE', 'bfloat16 as .npy');
  } else {
    formats = allowed;
  }
  const chosen = allowed === 'unknown' ? undefined : formats[0];
  if (wantMask && chosen !== undefined && chosen !== 'json') verdict.fail('NOT_ACCEPTABLE', 'return_mask without JSON');
  if (dtype === 'bfloat16' && chosen === 'npy') verdict.fail('UNSUPPORTED_DTYPE', 'bfloat16 as .npy');
  if (wantMask) formats = formats.filter((f) => f === 'json');
  if (dtype === 'bfloat16') formats = formats.filter((f) => f !== 'npy');
  return formats;
}

// ---------------------------------------------------------------------------------------------------------------
// JSON tensors (v1 input, v2 data)

const NON_FINITE: Record<string, number> = {
  NaN: Number.NaN,
  Infinity: Number.POSITIVE_INFINITY,
  '-Infinity': Number.NEGATIVE_INFINITY,
};

function leafValue(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && Object.hasOwn(NON_FINITE, v)) return NON_FINITE[v];
  return undefined;
}

/** A JSON tensor: nested rectangular (shape inferred, `shape` must agree) or flat (`shape` or 1-D). */
export function judgeJsonTensor(
  input: unknown[],
  shape: number[] | undefined,
  dtype: Dtype,
  limits: Limits,
  verdict: Verdict,
): { tensor: TensorSpec; nested: boolean } | undefined {
  const nested = input.some(Array.isArray);
  if (!nested) {
    const dims = shape ?? [input.length];
    const problem = dimsProblem(dims, limits);
    if (problem) verdict.fail(problem, `shape [${dims}]`);
    else if (count(dims) !== input.length) verdict.fail('SHAPE_MISMATCH', `[${dims}] vs ${input.length} values`);
    if (input.length > limits.maxElements) verdict.maybe('TOO_LARGE', `${input.length} values`);
    const values: number[] = [];
    input.forEach((v, i) => {
      const x = leafValue(v);
      if (x === undefined) verdict.fail('NON_NUMERIC', `input[${i}]`);
      else values.push(roundTo(dtype, x));
    });
    if (verdict.failed) return undefined;
    return { tensor: { dtype, shape: dims, values }, nested: false };
  }
  const dims: number[] = [];
  let level: unknown = input;
  while (Array.isArray(level)) {
    if (dims.length === limits.maxRank) {
      verdict.fail('BAD_SHAPE', `nested deeper than ${limits.maxRank}`);
      return undefined;
    }
    dims.push(level.length);
    level = level[0];
  }
  const problem = dimsProblem(dims, limits);
  if (problem) {
    verdict.fail(problem, `nested shape [${dims}]`);
    return undefined;
  }
  if (shape && (shape.length !== dims.length || shape.some((d, k) => d !== dims[k]))) {
    verdict.fail('SHAPE_MISMATCH', `shape [${shape}] vs nested [${dims}]`);
  }
  const values: number[] = [];
  const walk = (node: unknown[], depth: number): void => {
    if (node.length !== dims[depth]) {
      verdict.fail('RAGGED_ARRAY', `length ${node.length} at depth ${depth}, expected ${dims[depth]}`);
      return;
    }
    const leaf = depth === dims.length - 1;
    for (const item of node) {
      if (Array.isArray(item) !== !leaf) {
        verdict.fail('RAGGED_ARRAY', `${leaf ? 'array' : 'leaf'} at depth ${depth + 1}`);
        continue;
      }
      if (leaf) {
        const x = leafValue(item);
        if (x === undefined) verdict.fail('NON_NUMERIC', `value of type ${typeof item}`);
        else values.push(roundTo(dtype, x));
      } else {
        walk(item as unknown[], depth + 1);
      }
    }
  };
  walk(input, 0);
  if (verdict.failed) return undefined;
  return { tensor: { dtype, shape: dims, values }, nested: true };
}

// ---------------------------------------------------------------------------------------------------------------
// POST /v1/dropout, application/json

const V1_JSON_FIELDS = new Set([
  'input',
  'shape',
  'dtype',
  'p',
  'mode',
  'seed',
  'offset',
  'variant',
  'rng',
  'noise_shape',
  'return_mask',
]);

/**
 * Keys Fastify's JSON parser refuses anywhere in a body (prototype poisoning: `__proto__`, `constructor.prototype`);
 * a body parsed by a pool worker reaches the schema instead. Walked without recursion (bodies may nest 30,000 deep).
 */
function hasPoisonKey(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
      continue;
    }
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      const x = o[k];
      if (k === '__proto__') return true;
      if (k === 'constructor' && typeof x === 'object' && x !== null && Object.hasOwn(x, 'prototype')) return true;
      stack.push(x);
    }
  }
  return false;
}

/** How many containers (arrays, objects) nest at the deepest point of a JSON value (iteratively). */
function nestingDepth(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    max = Math.max(max, depth + 1);
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return max;
}

export function judgeV1Json(
  body: Buffer,
  accept: string | undefined,
  limits: Limits,
  pairs: [string, string][] = [],
): Verdict {
  const verdict = new Verdict();
  if (body.length > limits.maxBodyBytes) return verdict.fail('TOO_LARGE', `${body.length} bytes`);
  acceptFirst(accept, 'json', verdict);
  // The query is validated for every body format (a JSON body takes its settings from the body only).
  if (pairs.length > 0) judgeQuery(pairs, verdict);
  let text = body.toString('utf8');
  if (text.startsWith('\uFEFF')) {
    // Fastify's parser skips a byte order mark; JSON.parse (a worker's) does not.
    verdict.maybe('MALFORMED_JSON', 'byte order mark');
    text = text.slice(1);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return verdict.fail('MALFORMED_JSON', 'JSON.parse fails');
  }
  if (hasPoisonKey(value)) verdict.maybe('MALFORMED_JSON', 'prototype-poisoning key');
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return verdict.fail('INVALID_REQUEST', 'body is not an object');
  }
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) if (!V1_JSON_FIELDS.has(key)) verdict.fail('INVALID_REQUEST', `key ${key}`);
  // No setting nests (shape and noise_shape are flat lists): a field with containers inside containers is refused,
  // and the generic code is as right as the field's own (a pool worker refuses such bodies before validating them).
  for (const [key, v] of Object.entries(obj)) {
    if (key !== 'input' && nestingDepth(v) >= 2) verdict.maybe('INVALID_REQUEST', `${key} nests containers`);
  }
  if (!Object.hasOwn(obj, 'input')) verdict.fail('INVALID_REQUEST', 'no input');
  const has = (k: string) => Object.hasOwn(obj, k);
  if (has('input') && !Array.isArray(obj.input)) verdict.fail('INVALID_REQUEST', 'input is not an array');
  if (has('shape') && !(Array.isArray(obj.shape) && obj.shape.every((d) => isJsonInteger(d) && d >= 0))) {
    verdict.fail('BAD_SHAPE', 'shape schema');
  }
  if (has('dtype') && !DTYPES.includes(obj.dtype as Dtype)) verdict.fail('UNSUPPORTED_DTYPE', 'dtype schema');
  if (has('p') && !(isJsonNumber(obj.p) && obj.p >= 0 && obj.p <= 1)) verdict.fail('P_OUT_OF_RANGE', 'p schema');
  if (has('mode') && obj.mode !== 'train' && obj.mode !== 'eval') verdict.fail('INVALID_REQUEST', 'mode');
  if (has('seed') && !(isJsonInteger(obj.seed) || typeof obj.seed === 'string')) verdict.fail('BAD_SEED', 'schema');
  if (has('offset') && !((isJsonInteger(obj.offset) && obj.offset >= 0) || typeof obj.offset === 'string')) {
    verdict.fail('BAD_OFFSET', 'offset schema');
  }
  if (has('variant') && !VARIANTS.includes(obj.variant as Variant)) verdict.fail('INVALID_REQUEST', 'variant');
  if (has('rng') && obj.rng !== 'philox' && obj.rng !== 'torch') verdict.fail('INVALID_REQUEST', 'rng');
  if (
    has('noise_shape') &&
    !(Array.isArray(obj.noise_shape) && obj.noise_shape.every((d) => isJsonInteger(d) && d >= 1))
  ) {
    verdict.fail('INVALID_REQUEST', 'noise_shape schema');
  }
  if (has('return_mask') && typeof obj.return_mask !== 'boolean') verdict.fail('INVALID_REQUEST', 'return_mask');
  if (verdict.failed) {
    // Schema errors come first on the main thread; a body parsed by a pool worker has its tensor decoded first,
    // so a problem with the tensor may answer instead.
    const dtypeOk = !has('dtype') || DTYPES.includes(obj.dtype as Dtype);
    const shapeOk =
      !has('shape') || (Array.isArray(obj.shape) && obj.shape.every((d) => Number.isSafeInteger(d) && d >= 0));
    if (Array.isArray(obj.input) && dtypeOk && shapeOk) {
      const tensorVerdict = new Verdict();
      judgeJsonTensor(
        obj.input,
        obj.shape as number[] | undefined,
        (obj.dtype as Dtype) ?? 'float32',
        limits,
        tensorVerdict,
      );
      for (const code of tensorVerdict.codes) verdict.maybe(code, 'the tensor, decoded first on the worker path');
    }
    return verdict;
  }

  const dtype = (obj.dtype as Dtype | undefined) ?? 'float32';
  const wantMask = obj.return_mask === true;
  const formats = judgeReplyFormat(accept, 'json', wantMask, dtype, verdict);
  const decoded = judgeJsonTensor(obj.input as unknown[], obj.shape as number[] | undefined, dtype, limits, verdict);
  if (!decoded || verdict.failed) return verdict;
  const settings = judgeSettings(
    {
      p: obj.p as number | undefined,
      mode: obj.mode as Mode | undefined,
      seed: obj.seed,
      offset: obj.offset,
      variant: obj.variant as Variant | undefined,
      rng: obj.rng as Rng | undefined,
      noise: obj.noise_shape as number[] | undefined,
    },
    decoded.tensor,
    verdict,
  );
  if (settings && formats.length > 0) {
    verdict.ok = { tensor: decoded.tensor, settings, nested: decoded.nested, wantMask, formats };
  }
  return verdict;
}

// ---------------------------------------------------------------------------------------------------------------
// POST /v1/dropout, query parameters (binary and .npy)

const QUERY_FIELDS = ['shape', 'dtype', 'p', 'mode', 'seed', 'offset', 'variant', 'rng', 'noise_shape'];
const QUERY_CODE: Record<string, string> = {
  shape: 'BAD_SHAPE',
  dtype: 'UNSUPPORTED_DTYPE',
  p: 'P_OUT_OF_RANGE',
  seed: 'BAD_SEED',
  offset: 'BAD_OFFSET',
};
/** Keys a query parser may drop or keep (they name Object.prototype members): refused or ignored, both right. */
const PROTO_KEYS = new Set(['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf']);

export interface QueryParams {
  shape?: string;
  dtype?: Dtype;
  raw: RawSettings;
}

/** The schema phase of the query string: one value per known key, coerced as query text is (numbers). */
function judgeQuery(pairs: [string, string][], verdict: Verdict): QueryParams | undefined {
  const values = new Map<string, string[]>();
  for (const [k, v] of pairs) values.set(k, [...(values.get(k) ?? []), v]);
  const get = (k: string): string | undefined => values.get(k)?.[0];
  for (const [k, vs] of values) {
    if (PROTO_KEYS.has(k)) {
      verdict.maybe('INVALID_REQUEST', `query key ${k}`);
      continue;
    }
    if (!QUERY_FIELDS.includes(k)) verdict.fail('INVALID_REQUEST', `unknown query key ${JSON.stringify(k)}`);
    else if (vs.length > 1) verdict.fail(QUERY_CODE[k] ?? 'INVALID_REQUEST', `query key ${k} repeated`);
  }
  const dtype = get('dtype');
  if (dtype !== undefined && !DTYPES.includes(dtype as Dtype)) verdict.fail('UNSUPPORTED_DTYPE', `dtype ${dtype}`);
  for (const k of ['mode', 'variant', 'rng'] as const) {
    const v = get(k);
    const allowed: readonly string[] =
      k === 'mode' ? ['train', 'eval'] : k === 'variant' ? VARIANTS : ['philox', 'torch'];
    if (v !== undefined && !allowed.includes(v)) verdict.fail('INVALID_REQUEST', `${k} ${JSON.stringify(v)}`);
  }
  let p: number | undefined;
  const pText = get('p');
  if (pText !== undefined) {
    // Query text is coerced to a number as JSON Schema validators coerce it: any non-empty text Number() reads.
    const x = Number(pText);
    const canonical = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(pText);
    if (pText === '' || Number.isNaN(x) || !(x >= 0 && x <= 1))
      verdict.fail('P_OUT_OF_RANGE', `p ${JSON.stringify(pText)}`);
    else {
      if (!canonical) verdict.maybe('P_OUT_OF_RANGE', `p ${JSON.stringify(pText)} is not plain decimal`);
      p = x;
    }
  }
  if (verdict.failed) return undefined;
  return {
    shape: get('shape'),
    dtype: dtype as Dtype | undefined,
    raw: {
      p,
      mode: get('mode') as Mode | undefined,
      seed: get('seed'),
      offset: get('offset'),
      variant: get('variant') as Variant | undefined,
      rng: get('rng') as Rng | undefined,
      noise: get('noise_shape'),
    },
  };
}

/** A request whose body no parser takes: the query and Accept may still be refused first. */
export function judgeV1Unparsed(pairs: [string, string][], accept: string | undefined, why: string): Verdict {
  const verdict = new Verdict();
  acceptFirst(accept, 'json', verdict);
  judgeQuery(pairs, verdict);
  return verdict.fail('UNSUPPORTED_MEDIA_TYPE', why);
}

export function judgeV1Binary(
  pairs: [string, string][],
  body: Buffer,
  accept: string | undefined,
  limits: Limits,
): Verdict {
  const verdict = new Verdict();
  if (body.length > limits.maxBodyBytes) return verdict.fail('TOO_LARGE', `${body.length} bytes`);
  acceptFirst(accept, 'binary', verdict);
  const query = judgeQuery(pairs, verdict);
  if (!query) return verdict;
  const dtype = query.dtype ?? 'float32';
  const formats = judgeReplyFormat(accept, 'binary', false, dtype, verdict);
  const size = SIZE[dtype];
  let dims: number[] | undefined;
  if (query.shape !== undefined) {
    const parsed = parseDimsText(query.shape);
    if (parsed === null) verdict.fail('BAD_SHAPE', `shape ${JSON.stringify(query.shape)}`);
    else {
      if (parsed.lenient) verdict.maybe('BAD_SHAPE', 'shape with spaces');
      dims = parsed.dims;
    }
  }
  if (body.length % size !== 0) verdict.fail('BAD_BINARY_LENGTH', `${body.length} bytes of ${dtype}`);
  const n = Math.floor(body.length / size);
  if (query.shape === undefined || dims !== undefined) {
    const resolved = dims ?? [n];
    const problem = dimsProblem(resolved, limits);
    if (problem) verdict.fail(problem, `shape [${resolved}]`);
    else if (body.length % size === 0 && count(resolved) !== n) verdict.fail('SHAPE_MISMATCH', `[${resolved}] vs ${n}`);
  }
  if (n > limits.maxElements) verdict.maybe('TOO_LARGE', `${n} elements in the body`);
  if (verdict.failed) return verdict;
  const tensor: TensorSpec = { dtype, shape: dims ?? [n], values: decodeLE(dtype, body) };
  const settings = judgeSettings(query.raw, tensor, verdict);
  if (settings && formats.length > 0) verdict.ok = { tensor, settings, nested: true, wantMask: false, formats };
  return verdict;
}

function decodeLE(dtype: Dtype, bytes: Uint8Array): number[] {
  return decodeBytes(dtype, bytes, true);
}

/**
 * A .npy body. `strict`: the file's header is exactly as built (a structured lie, or untouched), so the verdict is
 * exact; otherwise random bytes of the header were changed, and any of the .npy refusals is right for a header the
 * oracle's reader does not read the same way as the service's.
 */
export function judgeV1Npy(
  pairs: [string, string][],
  body: Buffer,
  accept: string | undefined,
  limits: Limits,
  strict: boolean,
): Verdict {
  const verdict = new Verdict();
  if (body.length > limits.maxBodyBytes) return verdict.fail('TOO_LARGE', `${body.length} bytes`);
  acceptFirst(accept, 'npy', verdict);
  const query = judgeQuery(pairs, verdict);
  if (!query) return verdict;
  const npy = judgeNpy(body, limits);
  const dtype = npy.claim?.dtype ?? 'float32';
  const formats = judgeReplyFormat(accept, 'npy', false, dtype, verdict);
  if (query.shape !== undefined || query.dtype !== undefined) verdict.fail('INVALID_REQUEST', 'shape/dtype with .npy');
  if (!strict)
    for (const code of ['BAD_NPY', 'UNSUPPORTED_DTYPE', 'TOO_LARGE', 'BAD_SHAPE'])
      verdict.maybe(code, 'header bytes changed');
  for (const code of npy.codes) verdict.fail(code, '.npy');
  if (verdict.failed || !npy.claim) return verdict;
  const { claim } = npy;
  const data = body.subarray(claim.dataOffset);
  const values = claimValues(claim, data, (b, le) => decodeBytes(claim.dtype, b, le));
  const tensor: TensorSpec = { dtype: claim.dtype, shape: claim.shape.map(Number), values };
  const settings = judgeSettings(query.raw, tensor, verdict);
  if (settings && formats.length > 0) verdict.ok = { tensor, settings, nested: true, wantMask: false, formats };
  return verdict;
}

// ---------------------------------------------------------------------------------------------------------------
// POST /v2/models/dropout/infer

export interface V2OkSpec {
  tensor: TensorSpec;
  settings: SettingsSpec;
  datatype: string;
  id?: string;
  outputs: Array<{ name: 'output' | 'mask'; binary: boolean }>;
}

export class V2Verdict {
  readonly statuses = new Set<number>();
  definite = false;
  ok: V2OkSpec | null = null;
  readonly why: string[] = [];
}

/** Converts a v1-style verdict's codes to /v2 statuses (415 and 406 are 400 there). */
function v2Status(code: string): number {
  const status = STATUS[code] ?? 400;
  return status === 415 || status === 406 ? 400 : status;
}

const isParamValue = (v: unknown) =>
  typeof v === 'boolean' ||
  isJsonNumber(v) ||
  typeof v === 'string' ||
  (Array.isArray(v) && v.every((x) => isJsonInteger(x)));
const isParams = (v: unknown) =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(isParamValue);

export function judgeV2(
  body: Buffer,
  headers: { contentType?: string; headerLength?: string },
  version: string | undefined,
  limits: Limits,
): V2Verdict {
  const out = new V2Verdict();
  const verdict = new Verdict();
  const finish = (): V2Verdict => {
    for (const code of verdict.codes) out.statuses.add(v2Status(code));
    out.definite = verdict.failed;
    out.why.push(...verdict.why);
    return out;
  };
  if (body.length > limits.maxBodyBytes) {
    verdict.fail('TOO_LARGE', 'body');
    return finish();
  }
  const ct = headers.contentType;
  if (ct !== undefined && !/^application\/(json|octet-stream)\s*(;.*)?$/i.test(ct)) {
    verdict.fail('UNSUPPORTED_MEDIA_TYPE', `Content-Type ${ct}`);
  }
  if (version !== undefined && version !== '1') verdict.fail('NOT_FOUND', `version ${version}`);
  let length = body.length;
  if (headers.headerLength !== undefined) {
    const h = headers.headerLength;
    length = /^\d+$/.test(h.trim()) ? Number(h.trim()) : Number.NaN;
    if (!(length <= body.length)) {
      verdict.fail('INVALID_REQUEST', `Inference-Header-Content-Length ${h}`);
      return finish();
    }
  }
  let header: unknown;
  try {
    header = JSON.parse(body.subarray(0, length).toString('utf8'));
  } catch {
    verdict.fail('MALFORMED_JSON', 'inference header');
    return finish();
  }
  const binary = body.subarray(length);
  const h = header as Record<string, unknown>;
  const schemaOk =
    typeof header === 'object' &&
    header !== null &&
    !Array.isArray(header) &&
    (h.id === undefined || typeof h.id === 'string') &&
    (h.parameters === undefined || isParams(h.parameters)) &&
    Array.isArray(h.inputs) &&
    h.inputs.length >= 1 &&
    h.inputs.every(
      (i: unknown) =>
        typeof i === 'object' &&
        i !== null &&
        !Array.isArray(i) &&
        typeof (i as Record<string, unknown>).name === 'string' &&
        Array.isArray((i as Record<string, unknown>).shape) &&
        ((i as Record<string, unknown>).shape as unknown[]).every((d) => isJsonInteger(d) && d >= 0) &&
        typeof (i as Record<string, unknown>).datatype === 'string' &&
        ((i as Record<string, unknown>).parameters === undefined ||
          isParams((i as Record<string, unknown>).parameters)) &&
        ((i as Record<string, unknown>).data === undefined || Array.isArray((i as Record<string, unknown>).data)),
    ) &&
    (h.outputs === undefined ||
      (Array.isArray(h.outputs) &&
        h.outputs.every(
          (o: unknown) =>
            typeof o === 'object' &&
            o !== null &&
            !Array.isArray(o) &&
            typeof (o as Record<string, unknown>).name === 'string' &&
            ((o as Record<string, unknown>).parameters === undefined ||
              isParams((o as Record<string, unknown>).parameters)),
        )));
  if (!schemaOk) {
    verdict.fail('INVALID_REQUEST', 'InferRequest schema');
    return finish();
  }
  const params = { ...((h.parameters ?? {}) as Record<string, unknown>) };
  const has = (k: string) => Object.hasOwn(params, k);
  // /v2 reads a decimal-string p as its number (clients that keep parameters as strings send it so).
  if (
    typeof params.p === 'string' &&
    params.p.length <= 40 &&
    /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(params.p.trim())
  )
    params.p = Number(params.p.trim());
  if (has('p') && !(isJsonNumber(params.p) && params.p >= 0 && params.p <= 1)) verdict.fail('P_OUT_OF_RANGE', 'p');
  if (has('mode') && params.mode !== 'train' && params.mode !== 'eval') verdict.fail('INVALID_REQUEST', 'mode');
  if (has('seed') && !(isJsonInteger(params.seed) || typeof params.seed === 'string')) verdict.fail('BAD_SEED', 'seed');
  if (has('offset') && !((isJsonInteger(params.offset) && params.offset >= 0) || typeof params.offset === 'string')) {
    verdict.fail('BAD_OFFSET', 'offset');
  }
  if (has('variant') && !VARIANTS.includes(params.variant as Variant)) verdict.fail('INVALID_REQUEST', 'variant');
  if (has('rng') && params.rng !== 'philox' && params.rng !== 'torch') verdict.fail('INVALID_REQUEST', 'rng');
  if (
    has('noise_shape') &&
    !(
      typeof params.noise_shape === 'string' ||
      (Array.isArray(params.noise_shape) && params.noise_shape.every((d) => isJsonInteger(d) && d >= 1))
    )
  ) {
    verdict.fail('INVALID_REQUEST', 'noise_shape');
  }
  if (has('binary_data_output') && typeof params.binary_data_output !== 'boolean') {
    verdict.fail('INVALID_REQUEST', 'binary_data_output');
  }
  if (verdict.failed) return finish();

  const inputs = h.inputs as Array<Record<string, unknown>>;
  if (inputs.length !== 1 || inputs[0].name !== 'input') {
    verdict.fail('INVALID_REQUEST', 'inputs');
    return finish();
  }
  const input = inputs[0];
  const dtype = Object.hasOwn(V2_DATATYPES, input.datatype as string)
    ? V2_DATATYPES[input.datatype as string]
    : undefined;
  if (dtype === undefined) {
    verdict.fail('UNSUPPORTED_DTYPE', `datatype ${input.datatype}`);
    return finish();
  }
  const shape = input.shape as number[];
  const size = (input.parameters as Record<string, unknown> | undefined)?.binary_data_size;
  let tensor: TensorSpec | undefined;
  if (size !== undefined) {
    if (!(typeof size === 'number' && Number.isSafeInteger(size) && size >= 0 && size === binary.length)) {
      verdict.fail('BAD_BINARY_LENGTH', `binary_data_size ${JSON.stringify(size)} vs ${binary.length}`);
      return finish();
    }
    const n = Math.floor(binary.length / SIZE[dtype]);
    if (binary.length % SIZE[dtype] !== 0) verdict.fail('BAD_BINARY_LENGTH', 'binary length');
    const problem = dimsProblem(shape, limits);
    if (problem) verdict.fail(problem, `shape [${shape}]`);
    else if (binary.length % SIZE[dtype] === 0 && count(shape) !== n) verdict.fail('SHAPE_MISMATCH', 'binary');
    if (n > limits.maxElements) verdict.maybe('TOO_LARGE', `${n} elements`);
    if (verdict.failed) return finish();
    tensor = { dtype, shape, values: decodeBytes(dtype, binary, true) };
  } else {
    if (!Array.isArray(input.data)) {
      verdict.fail('INVALID_REQUEST', 'no data');
      return finish();
    }
    if (binary.length > 0) {
      verdict.fail('INVALID_REQUEST', 'binary bytes without binary input');
      return finish();
    }
    const decoded = judgeJsonTensor(input.data, shape, dtype, limits, verdict);
    if (!decoded) return finish();
    tensor = decoded.tensor;
  }
  const binaryDefault = params.binary_data_output === true;
  const requested = (h.outputs as Array<Record<string, unknown>> | undefined) ?? [{ name: 'output' }];
  const outputs: V2OkSpec['outputs'] = [];
  for (const o of requested) {
    if (o.name !== 'output' && o.name !== 'mask') verdict.fail('INVALID_REQUEST', `output ${o.name}`);
    else if (outputs.some((x) => x.name === o.name)) verdict.fail('INVALID_REQUEST', `output ${o.name} listed twice`);
    const flag = (o.parameters as Record<string, unknown> | undefined)?.binary_data;
    outputs.push({ name: o.name as 'output' | 'mask', binary: typeof flag === 'boolean' ? flag : binaryDefault });
  }
  if (verdict.failed) return finish();
  const settings = judgeSettings(
    {
      p: params.p as number | undefined,
      mode: params.mode as Mode | undefined,
      seed: params.seed,
      offset: params.offset,
      variant: params.variant as Variant | undefined,
      rng: params.rng as Rng | undefined,
      noise: params.noise_shape as number[] | string | undefined,
    },
    tensor,
    verdict,
  );
  if (settings) {
    out.ok = {
      tensor,
      settings,
      datatype: input.datatype as string,
      id: h.id as string | undefined,
      outputs,
    };
  }
  return finish();
}
