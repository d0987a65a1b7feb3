/**
 * Request decoding and reply encoding for POST /v1/dropout, for each body format. Small work runs here on the main
 * thread; large JSON is parsed and serialised by pool workers.
 */

import type { FastifyReply } from 'fastify';
import { decodeBinaryTensor, tensorBytes } from '../../codec/binary-tensor.js';
import { type ReplyEcho, writeDropoutReply } from '../../codec/json-reply.js';
import { decodeJsonTensor, type JsonLimits, type Tensor } from '../../codec/json-tensor.js';
import { decodeNpy, encodeNpyParts } from '../../codec/npy.js';
import { parseShapeParam } from '../../codec/shape.js';
import type { RawSettings, Settings } from '../../dropout/settings.js';
import { ProblemError } from '../../errors.js';
import { type Format, MEDIA_TYPES } from '../../http/formats.js';
import { DeferredJson } from '../../http/json-body.js';
import { sendParts } from '../../http/reply-body.js';
import { validateBody } from '../../http/validation.js';
import { BYTES_PER_ELEMENT, viewOf } from '../../kernel/dtype.js';
import type { KernelResult, OffloadPool } from '../../offload/pool.js';
import { DropoutJsonBody, type DropoutQuery } from '../../schemas/dropout.js';

/** A rough size of one written value, to estimate a reply's bytes before writing it. */
const BYTES_PER_JSON_VALUE = 12;

export interface DecodedRequest {
  tensor: Tensor;
  /** Whether a JSON reply nests the values (nested JSON input, or any binary input) or writes them flat. */
  nested: boolean;
  raw: RawSettings;
  wantMask: boolean;
}

/** A .npy body, read like a binary one but decoded from its own header. */
export class NpyBody {
  constructor(readonly bytes: Uint8Array) {}
}

export function formatOf(body: unknown): Format | undefined {
  if (body instanceof NpyBody) return 'npy';
  if (body instanceof Uint8Array) return 'binary';
  if (body instanceof DeferredJson || (typeof body === 'object' && body !== null)) return 'json';
  return undefined;
}

export function decodeBinaryRequest(bytes: Uint8Array, query: DropoutQuery, limits: JsonLimits): DecodedRequest {
  const shape = query.shape === undefined ? undefined : parseShapeParam(query.shape);
  const tensor = decodeBinaryTensor(bytes, shape, query.dtype ?? 'float32', limits);
  // A binary tensor has no nesting of its own; its JSON form nests by shape, as NumPy's tolist() does.
  return { tensor, nested: true, raw: query, wantMask: false };
}

export function decodeNpyRequest(body: NpyBody, query: DropoutQuery, limits: JsonLimits): DecodedRequest {
  if (query.shape !== undefined || query.dtype !== undefined) {
    throw new ProblemError(
      'INVALID_REQUEST',
      'a .npy body carries its own shape and dtype: drop the shape and dtype parameters',
    );
  }
  return { tensor: decodeNpy(body.bytes, limits), nested: true, raw: query, wantMask: false };
}

export async function decodeJsonRequest(
  body: unknown,
  pool: OffloadPool,
  limits: JsonLimits,
  signal: () => AbortSignal,
): Promise<DecodedRequest> {
  if (!(body instanceof DeferredJson)) {
    const json = body as DropoutJsonBody;
    const tensor = decodeJsonTensor(json.input, json.shape, json.dtype ?? 'float32', limits);
    return { tensor, nested: tensor.nested, raw: json, wantMask: json.return_mask ?? false };
  }
  const { buffer, byteOffset, byteLength } = body.bytes;
  // The worker's tensor must be in shared memory whatever its size: it is handed back, not copied.
  const parsed = await pool.parseJson(
    {
      body: { buffer: buffer as SharedArrayBuffer, byteOffset, byteLength },
      limits: { ...limits, inlineMaxElements: -1 },
    },
    signal(),
  );
  if (!parsed.ok) {
    if (parsed.fields) validateBody(DropoutJsonBody, parsed.fields);
    throw new ProblemError(parsed.code, parsed.detail);
  }
  validateBody(DropoutJsonBody, parsed.fields);
  const json = parsed.fields as DropoutJsonBody;
  if (parsed.tensor === null) throw new ProblemError('INVALID_REQUEST', 'body/input could not be decoded');
  const { buffer: data, shape, nested, dtype } = parsed.tensor;
  const tensor: Tensor = {
    shape,
    dtype,
    data: viewOf(dtype, data, 0, data.byteLength / BYTES_PER_ELEMENT[dtype]),
  };
  return { tensor, nested, raw: json, wantMask: json.return_mask ?? false };
}

/** Raw bytes or .npy: the tensor's own memory is sent, with the settings in headers. */
export function sendBinary(
  reply: FastifyReply,
  format: 'binary' | 'npy',
  tensor: Tensor,
  settings: Settings,
  result: KernelResult,
): FastifyReply {
  reply.type(MEDIA_TYPES[format]).headers({
    'Tensor-Shape': tensor.shape.join(','),
    'Tensor-Dtype': tensor.dtype,
    'Dropout-Kept': String(result.kept),
    'Dropout-Offset': String(settings.offset),
  });
  if (settings.seed !== null) reply.header('Dropout-Seed', settings.seed.toString());
  if (format === 'binary') return sendParts(reply, [tensorBytes(tensor)]);
  const { header, body } = encodeNpyParts(tensor);
  return sendParts(reply, [header, body]);
}

/** The mask's memory as a SharedArrayBuffer a worker can read (copied when the mask was made on this thread). */
function shared(mask: Uint8Array): SharedArrayBuffer {
  if (mask.buffer instanceof SharedArrayBuffer && mask.byteOffset === 0) return mask.buffer;
  const copy = new Uint8Array(new SharedArrayBuffer(mask.length));
  copy.set(mask);
  return copy.buffer as SharedArrayBuffer;
}

export async function sendJson(
  reply: FastifyReply,
  request: DecodedRequest,
  settings: Settings,
  result: KernelResult,
  pool: OffloadPool,
  /** Replies estimated past this size are serialised by a worker (INLINE_MAX_JSON_BYTES). */
  inlineMaxJsonBytes: number,
  signal: () => AbortSignal,
): Promise<FastifyReply> {
  const { tensor, nested } = request;
  const echo: ReplyEcho = {
    p: settings.p,
    mode: settings.mode,
    variant: settings.variant,
    rng: settings.rng,
    seed: settings.seed === null ? null : settings.seed.toString(),
    offset: settings.offset,
    kept: result.kept,
  };
  const { data } = tensor;
  let bytes: Uint8Array;
  // Writing a number costs ~100x the kernel's work on it, so JSON has its own, lower, threshold.
  if (data.length * BYTES_PER_JSON_VALUE > inlineMaxJsonBytes && data.buffer instanceof SharedArrayBuffer) {
    bytes = await pool.encodeJson(
      {
        tensor: {
          buffer: data.buffer,
          byteOffset: data.byteOffset,
          length: data.length,
          shape: tensor.shape,
          dtype: tensor.dtype,
          nested,
        },
        echo,
        mask: result.mask ? shared(result.mask) : undefined,
      },
      signal(),
    );
  } else {
    bytes = writeDropoutReply({ data, shape: tensor.shape, dtype: tensor.dtype, nested }, echo, result.mask);
  }
  return sendParts(reply.type(MEDIA_TYPES.json), [bytes]);
}
