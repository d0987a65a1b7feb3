/**
 * POST /v1/dropout's request, for each body format: the tensor, the settings as sent, whether the mask is wanted, and
 * how a JSON reply lays the values out. A large JSON body is parsed by a pool worker (the service's codec).
 */

import { decodeBinaryTensor } from '../../codec/binary-tensor.js';
import { decodeJsonTensor } from '../../codec/json/tensor.js';
import { decodeNpy } from '../../codec/npy.js';
import { parseShapeParam } from '../../dropout/shape.js';
import type { TensorLimits } from '../../dropout/tensor.js';
import { ProblemError } from '../../errors.js';
import type { Format } from '../../http/formats.js';
import { DeferredJson } from '../../http/json-body.js';
import type { MaybePromise } from '../../maybe-promise.js';
import { DropoutJsonBody, type DropoutQuery } from '../../schemas/dropout.js';
import { validateBody } from '../../schemas/validate.js';
import type { CallContext, DecodedCall } from '../../service/dropout-service.js';

export interface DecodedRequest extends DecodedCall {
  /** Whether a JSON reply nests the values (nested JSON input, or any binary input) or writes them flat. */
  nested: boolean;
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

export function decodeBinaryRequest(bytes: Uint8Array, query: DropoutQuery, limits: TensorLimits): DecodedRequest {
  const shape = query.shape === undefined ? undefined : parseShapeParam(query.shape);
  const tensor = decodeBinaryTensor(bytes, shape, query.dtype ?? 'float32', limits);
  // A binary tensor has no nesting of its own; its JSON form nests by shape, as NumPy's tolist() does.
  return { tensor, nested: true, raw: query, wantMask: false };
}

export function decodeNpyRequest(body: NpyBody, query: DropoutQuery, limits: TensorLimits): DecodedRequest {
  if (query.shape !== undefined || query.dtype !== undefined) {
    throw new ProblemError(
      'INVALID_REQUEST',
      'a .npy body carries its own shape and dtype: drop the shape and dtype parameters',
    );
  }
  return { tensor: decodeNpy(body.bytes, limits), nested: true, raw: query, wantMask: false };
}

export function decodeJsonRequest(body: unknown, context: CallContext): MaybePromise<DecodedRequest> {
  if (!(body instanceof DeferredJson)) {
    const json = body as DropoutJsonBody;
    const tensor = decodeJsonTensor(json.input, json.shape, json.dtype ?? 'float32', context.limits);
    return { tensor, nested: tensor.nested, raw: json, wantMask: json.return_mask ?? false };
  }
  return decodeDeferredJson(body, context);
}

/** A JSON body too large to parse on this thread: a worker parses it, and its fields are validated here. */
async function decodeDeferredJson(body: DeferredJson, context: CallContext): Promise<DecodedRequest> {
  const parsed = await context.codec.parseJsonBody(body.bytes, context.signal);
  if (!parsed.ok) {
    if (parsed.fields) validateBody(DropoutJsonBody, parsed.fields);
    throw new ProblemError(parsed.code, parsed.detail);
  }
  validateBody(DropoutJsonBody, parsed.fields);
  const json = parsed.fields as DropoutJsonBody;
  if (parsed.tensor === null) throw new ProblemError('INVALID_REQUEST', 'body/input could not be decoded');
  const { nested, ...tensor } = parsed.tensor;
  return { tensor, nested, raw: json, wantMask: json.return_mask ?? false };
}
