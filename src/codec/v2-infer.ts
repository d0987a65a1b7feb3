/**
 * Inference requests and responses of the Open Inference Protocol with Triton's binary tensor extension: a JSON
 * header, optionally followed by raw tensor bytes whose sizes the header gives (binary_data_size).
 */

import type { RawSettings } from '../dropout/settings.js';
import type { Tensor, TensorLimits } from '../dropout/tensor.js';
import { clip, ProblemError, quote } from '../errors.js';
import type { Dtype, TensorData } from '../kernel/dtype.js';
import { InferParameters, InferRequest, V2_DATATYPES, type V2Datatype } from '../schemas/v2.js';
import { validateBody } from '../schemas/validate.js';
import { decodeBinaryTensor, tensorBytes } from './binary-tensor.js';
import { decodeJsonTensor } from './json/tensor.js';
import { JsonWriter } from './json/writer.js';

export const OUTPUT_NAMES = ['output', 'mask'] as const;
export type OutputName = (typeof OUTPUT_NAMES)[number];

export interface InferCall {
  id?: string;
  tensor: Tensor;
  raw: RawSettings;
  outputs: Array<{ name: OutputName; binary: boolean }>;
}

/** Splits a body into its JSON header's bytes and the binary section after them (Inference-Header-Content-Length). */
export function splitInferBody(
  bytes: Uint8Array,
  headerLength: string | undefined,
): { header: Uint8Array; binary: Uint8Array } {
  let length = bytes.length;
  if (headerLength !== undefined) {
    length = /^\d+$/.test(headerLength.trim()) ? Number(headerLength) : Number.NaN;
    if (!(length <= bytes.length)) {
      throw new ProblemError(
        'INVALID_REQUEST',
        `Inference-Header-Content-Length is ${clip(headerLength)} but the body has ${bytes.length} bytes`,
      );
    }
  }
  return { header: bytes.subarray(0, length), binary: bytes.subarray(length) };
}

export function parseInferHeader(header: Uint8Array): unknown {
  const text = Buffer.from(header.buffer, header.byteOffset, header.length).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ProblemError('MALFORMED_JSON', `the inference header is not valid JSON: ${(error as Error).message}`);
  }
}

/** Longest request id accepted: ids name requests (a UUID is 36 characters), and every reply repeats its id. */
export const MAX_ID_CHARS = 256;
/** How many input names a detail lists. */
const MAX_NAMES_QUOTED = 4;

export function dtypeOf(datatype: string): Dtype {
  const dtype = Object.hasOwn(V2_DATATYPES, datatype) ? V2_DATATYPES[datatype as V2Datatype] : undefined;
  if (dtype === undefined) {
    throw new ProblemError(
      'UNSUPPORTED_DTYPE',
      `datatype ${clip(datatype)} is not supported; use ${Object.keys(V2_DATATYPES).join(', ')}`,
    );
  }
  return dtype;
}

export function datatypeOf(dtype: Dtype): V2Datatype {
  return (Object.keys(V2_DATATYPES) as V2Datatype[]).find((k) => V2_DATATYPES[k] === dtype) as V2Datatype;
}

/** Decodes a JSON input's `data`; a worker reads it from bytes already parsed (../offload/json-tasks.ts). */
export type DecodeData = (data: unknown[], shape: number[], dtype: Dtype) => Tensor;

/** A parsed header to a call: the schemas first, then the model's own checks and the input tensor. */
export function readInferCall(
  header: unknown,
  binary: Uint8Array,
  limits: TensorLimits,
  decodeData?: DecodeData,
): InferCall {
  validateBody(InferRequest, header, 'request');
  let request = header as InferRequest;
  if (request.parameters !== undefined) request = { ...request, parameters: numericP(request.parameters) };
  validateBody(InferParameters, request.parameters ?? {}, 'parameters');
  return decodeInferCall(request, binary, limits, decodeData);
}

/** A decimal number as text: what Python's str() writes for a float ("0.5", "1e-05"), signs and blanks aside. */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** Longer strings go to the schema unscanned: no p needs more characters, and scanning megabytes would cost time. */
const MAX_DECIMAL_CHARS = 40;

/**
 * Parameters with a decimal-string p as its number: clients that keep every parameter as a string (as they may
 * send seed and offset) send p that way too. Converted before the schema, so "1.5" and "abc" are refused in the
 * very words 1.5 and "abc" are.
 */
function numericP(parameters: NonNullable<InferRequest['parameters']>): NonNullable<InferRequest['parameters']> {
  const { p } = parameters;
  if (typeof p !== 'string' || p.length > MAX_DECIMAL_CHARS || !DECIMAL.test(p.trim())) return parameters;
  return { ...parameters, p: Number(p.trim()) };
}

export function decodeInferCall(
  request: InferRequest,
  binary: Uint8Array,
  limits: TensorLimits,
  decodeData: DecodeData = (data, shape, dtype) => decodeJsonTensor(data, shape, dtype, limits),
): InferCall {
  if (request.id !== undefined && request.id.length > MAX_ID_CHARS) {
    throw new ProblemError(
      'INVALID_REQUEST',
      `request/id is ${request.id.length} characters; the reply echoes it, so it is at most ${MAX_ID_CHARS}`,
    );
  }
  const [input, ...others] = request.inputs;
  if (others.length > 0 || input.name !== 'input') {
    const names = request.inputs.slice(0, MAX_NAMES_QUOTED).map((i) => quote(i.name));
    if (request.inputs.length > MAX_NAMES_QUOTED) names.push(`… (${request.inputs.length} inputs)`);
    throw new ProblemError(
      'INVALID_REQUEST',
      `model dropout takes exactly one input named "input"; got ${names.join(', ')}`,
    );
  }
  const dtype = dtypeOf(input.datatype);
  const size = input.parameters?.binary_data_size;
  let tensor: Tensor;
  if (size !== undefined) {
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || size !== binary.length) {
      throw new ProblemError(
        'BAD_BINARY_LENGTH',
        `input binary_data_size is ${quote(size)} but ${binary.length} bytes follow the header`,
      );
    }
    tensor = decodeBinaryTensor(binary, input.shape, dtype, limits);
  } else {
    if (!Array.isArray(input.data)) {
      throw new ProblemError('INVALID_REQUEST', 'input needs "data" or parameters.binary_data_size');
    }
    if (binary.length > 0)
      throw new ProblemError('INVALID_REQUEST', `${binary.length} bytes follow the header but no input is binary`);
    tensor = decodeData(input.data, input.shape, dtype);
  }
  const parameters = (request.parameters ?? {}) as RawSettings & { binary_data_output?: boolean };
  const binaryDefault = parameters.binary_data_output === true;
  const requested = request.outputs ?? [{ name: 'output' }];
  const seen = new Set<string>();
  const outputs = requested.map((o) => {
    if (!(OUTPUT_NAMES as readonly string[]).includes(o.name)) {
      throw new ProblemError(
        'INVALID_REQUEST',
        `unknown output ${quote(o.name)}; model dropout has outputs "output" and "mask"`,
      );
    }
    // Each listing writes the whole tensor again: a short request could otherwise ask for gigabytes of reply.
    if (seen.has(o.name)) throw new ProblemError('INVALID_REQUEST', `output "${o.name}" is requested more than once`);
    seen.add(o.name);
    const flag = o.parameters?.binary_data;
    return { name: o.name as OutputName, binary: typeof flag === 'boolean' ? flag : binaryDefault };
  });
  const { binary_data_output: _ignored, ...raw } = parameters;
  return { id: request.id, tensor, raw, outputs };
}

export interface InferResult {
  tensor: Tensor;
  mask?: Uint8Array;
  seed: string | null;
  offset: number;
  kept: number;
}

/** What of the call its reply echoes. */
export type InferReplyCall = Pick<InferCall, 'id' | 'outputs'>;

/** The outputs sent as binary data, in order; views of the tensor and mask, not copies. */
export function binaryChunks(call: InferReplyCall, result: InferResult): Uint8Array[] {
  return call.outputs
    .filter((o) => o.binary)
    .map((o) => (o.name === 'mask' ? (result.mask ?? new Uint8Array(0)) : tensorBytes(result.tensor)));
}

/** The reply's JSON header, with the data of its JSON outputs. Pure: large ones are written by a pool worker. */
export function encodeInferHeader(call: InferReplyCall, result: InferResult, modelVersion: string): Uint8Array {
  const w = new JsonWriter(256 + call.outputs.reduce((n, o) => n + (o.binary ? 0 : result.tensor.data.length * 12), 0));
  w.ascii('{');
  if (call.id !== undefined) w.ascii(`"id":${JSON.stringify(call.id)},`);
  w.ascii(`"model_name":"dropout","model_version":${JSON.stringify(modelVersion)},`);
  // The protocol's parameter values are strings, numbers or booleans only: with no seed (eval) the key is left out.
  const seed = result.seed === null ? '' : `"seed":"${result.seed}",`;
  w.ascii(`"parameters":{${seed}"offset":${result.offset},"kept":${result.kept}},`);
  w.ascii('"outputs":[');
  const { shape, dtype, data } = result.tensor;
  call.outputs.forEach((o, k) => {
    if (k > 0) w.ascii(',');
    const isMask = o.name === 'mask';
    const mask = result.mask ?? new Uint8Array(0);
    w.ascii(`{"name":"${o.name}","datatype":"${isMask ? 'BOOL' : datatypeOf(dtype)}","shape":${JSON.stringify(shape)}`);
    if (o.binary) {
      const size = isMask ? mask.byteLength : data.byteLength;
      w.ascii(`,"parameters":{"binary_data_size":${size}}}`);
      return;
    }
    w.ascii(',"data":[');
    if (!isMask && data instanceof Float32Array) {
      // The common case, formatted in rows by the WebAssembly writer: the same bytes as float32() value by value.
      w.float32Run(data, 0, data.length);
    } else {
      const write = isMask ? (i: number) => w.bool(mask[i] === 1) : writeValue(w, dtype, data);
      for (let i = 0; i < data.length; i++) {
        if (i > 0) w.byte(44);
        write(i);
      }
    }
    w.ascii(']}');
  });
  w.ascii(']}');
  return w.bytes();
}

function writeValue(w: JsonWriter, dtype: Dtype, data: TensorData): (i: number) => void {
  const write = w.writerFor(dtype);
  return (i) => write(data[i]);
}
