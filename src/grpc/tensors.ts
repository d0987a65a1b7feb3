/**
 * Protobuf tensors and parameters to the call the pipeline runs, and the pipeline's result to a ModelInferResponse.
 *
 * A request is read as its /v2 JSON header with one binary input would be (codec/v2-infer.ts), so every check and
 * every detail text is the HTTP route's. The tensor's bytes are raw_input_contents[0], or a packed fp32_contents or
 * fp64_contents, which protobuf already lays out as the tensor's little-endian values: a view of the received
 * message, computed in place when the tensor is small (or aligned shared memory from the request's lease when the
 * pool will compute it, the one copy the received bytes get).
 */
import { datatypeOf, dtypeOf, type InferCall, type OUTPUT_NAMES, readInferCall } from '../codec/v2-infer.js';
import { ProblemError, quote } from '../errors.js';
import { BYTES_PER_ELEMENT } from '../kernel/dtype.js';
import type { CallContext, DecodedCall, DropoutOutcome } from '../service/dropout-service.js';
import { MODEL, MODEL_VERSION } from '../service/model.js';
import {
  CONTENTS_FIELDS,
  FP32_CONTENTS,
  FP64_CONTENTS,
  type InferParameterValue,
  type WireParameters,
  type WireRequest,
  type WireResponse,
} from './wire.js';

type TensorLimits = CallContext['limits'];
type Tensor = DecodedCall['tensor'];

/** Where a tensor's bytes go before it is decoded: shared memory from the call's lease, for the pool to compute on. */
export type Acquire = (bytes: number) => Uint8Array;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * A parameter as JSON would carry it: integers a JSON number holds exactly stay numbers; larger ones (a uint64 seed)
 * become decimal strings, which the settings read exactly, as /v2 reads a string seed.
 */
function jsonValue(parameter: InferParameterValue): boolean | number | string {
  switch (parameter.kind) {
    case 'int64_param':
    case 'uint64_param':
      return parameter.value <= MAX_SAFE && parameter.value >= -MAX_SAFE
        ? Number(parameter.value)
        : String(parameter.value);
    default:
      return parameter.value;
  }
}

function jsonParameters(parameters: WireParameters): Record<string, boolean | number | string> {
  const out: Record<string, boolean | number | string> = {};
  for (const [key, value] of parameters) {
    // binary_data_output is an HTTP matter; over gRPC every output is raw bytes.
    if (key !== 'binary_data_output') out[key] = jsonValue(value);
  }
  return out;
}

function concat(views: Uint8Array[]): Uint8Array {
  if (views.length === 1) return views[0];
  return Buffer.concat(views);
}

/** The input's bytes, from raw_input_contents or its typed contents, checked against its datatype. */
function inputBytes(request: WireRequest): Uint8Array | undefined {
  const raw = request.rawInputContents;
  const input = request.inputs[0];
  if (raw.length > 0 && raw.length !== request.inputs.length) {
    throw new ProblemError(
      'INVALID_REQUEST',
      `raw_input_contents has ${raw.length} entries for ${request.inputs.length} inputs; send one per input, or none`,
    );
  }
  if (input === undefined) return undefined;
  const fields = [...input.contents.keys()];
  if (raw.length > 0) {
    if (fields.length > 0) {
      throw new ProblemError(
        'INVALID_REQUEST',
        `input ${quote(input.name)} has both raw_input_contents and contents.${CONTENTS_FIELDS[fields[0]]}; send one`,
      );
    }
    return raw[0];
  }
  if (fields.length === 0) return undefined;
  const dtype = dtypeOf(input.datatype);
  const field = dtype === 'float32' ? FP32_CONTENTS : dtype === 'float64' ? FP64_CONTENTS : undefined;
  const other = fields.find((f) => f !== field);
  if (field === undefined || other !== undefined) {
    const want =
      field === undefined
        ? `${input.datatype} has no typed contents field; send its bytes in raw_input_contents`
        : `${input.datatype} values go in contents.${CONTENTS_FIELDS[field]} or raw_input_contents`;
    throw new ProblemError(
      'INVALID_REQUEST',
      `input ${quote(input.name)} has contents.${CONTENTS_FIELDS[other ?? fields[0]]}; ${want}`,
    );
  }
  return concat(input.contents.get(field) ?? []);
}

/**
 * The call of a request, its tensor a view of `bytes` in place; past `inlineMaxElements` the bytes are first copied
 * into `acquire`'s shared memory, where the pool's threads can compute on them.
 */
export function readGrpcCall(request: WireRequest, limits: TensorLimits, acquire: Acquire): InferCall {
  const input = request.inputs[0];
  let bytes = inputBytes(request);
  if (input !== undefined && bytes === undefined) {
    throw new ProblemError(
      'INVALID_REQUEST',
      `input ${quote(input.name)} has no data; send its bytes in raw_input_contents (or contents.fp32_contents, contents.fp64_contents)`,
    );
  }
  if (input !== undefined && bytes !== undefined) {
    const width = BYTES_PER_ELEMENT[dtypeOf(input.datatype)];
    if (bytes.length / width > limits.inlineMaxElements && bytes.length / width <= limits.maxElements) {
      const shared = acquire(bytes.length);
      shared.set(bytes);
      bytes = shared;
    }
  }
  const header = {
    ...(request.id === '' ? {} : { id: request.id }),
    ...(request.parameters.size === 0 ? {} : { parameters: jsonParameters(request.parameters) }),
    inputs: request.inputs.map((i, k) => ({
      name: i.name,
      shape: i.shape,
      datatype: i.datatype,
      ...(k === 0 ? { parameters: { binary_data_size: bytes?.length ?? 0 } } : {}),
    })),
    ...(request.outputs.length === 0 ? {} : { outputs: request.outputs.map((o) => ({ name: o.name })) }),
  };
  return readInferCall(header, bytes ?? new Uint8Array(0), limits);
}

/** The outputs a reply carries, in the order asked; `output` alone when none is named. */
export function outputNames(call: InferCall): Array<(typeof OUTPUT_NAMES)[number]> {
  return call.outputs.map((o) => o.name);
}

export function inferResponse(call: InferCall, tensor: Tensor, outcome: DropoutOutcome): WireResponse {
  const { settings } = outcome;
  const parameters: WireResponse['parameters'] = [];
  // As on /v2: no seed in eval mode, where none is drawn.
  if (settings.seed !== null) parameters.push(['seed', { kind: 'string_param', value: settings.seed.toString() }]);
  parameters.push(['offset', { kind: 'int64_param', value: BigInt(settings.offset) }]);
  parameters.push(['kept', { kind: 'int64_param', value: BigInt(outcome.kept) }]);
  const { data } = tensor;
  return {
    modelName: MODEL,
    modelVersion: MODEL_VERSION,
    id: call.id ?? '',
    parameters,
    outputs: outputNames(call).map((name) =>
      name === 'mask'
        ? { name, datatype: 'BOOL', shape: tensor.shape, data: outcome.mask ?? new Uint8Array(0) }
        : {
            name,
            datatype: datatypeOf(tensor.dtype),
            shape: tensor.shape,
            data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
          },
    ),
  };
}
