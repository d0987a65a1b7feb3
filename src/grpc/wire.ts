/**
 * ModelInferRequest in, ModelInferResponse and ModelStreamInferResponse out, in protobuf's wire format, by hand
 * (proto/inference.proto gives the fields). A generic decoder would turn a million fp32_contents into a million
 * numbers and hand raw_input_contents over as copies; here a request's tensor bytes stay views of the message that
 * grpc-js received, a packed fp32_contents or fp64_contents is already the tensor's little-endian bytes, and a reply
 * is written into one buffer: its small fields first, then each output's bytes copied once.
 *
 * Decoding never throws: grpc-js answers a deserializer's exception with INTERNAL, and a malformed message is the
 * client's fault (INVALID_ARGUMENT), so it comes back as a value saying what is wrong.
 */

export type InferParameterValue =
  | { kind: 'bool_param'; value: boolean }
  | { kind: 'int64_param'; value: bigint }
  | { kind: 'string_param'; value: string }
  | { kind: 'double_param'; value: number }
  | { kind: 'uint64_param'; value: bigint };

export type WireParameters = Map<string, InferParameterValue>;

/** InferTensorContents' fields, by number. */
export const CONTENTS_FIELDS: Record<number, string> = {
  1: 'bool_contents',
  2: 'int_contents',
  3: 'int64_contents',
  4: 'uint_contents',
  5: 'uint64_contents',
  6: 'fp32_contents',
  7: 'fp64_contents',
  8: 'bytes_contents',
};
export const FP32_CONTENTS = 6;
export const FP64_CONTENTS = 7;

export interface WireInput {
  name: string;
  datatype: string;
  /** int64 dims; a dim past 2^53 is not exact here, and every limit refuses it anyway. */
  shape: number[];
  parameters: WireParameters;
  /**
   * The typed contents' fields that are present, each with its values' little-endian bytes (packed, the proto3
   * default, is one view; unpacked elements are one view each).
   */
  contents: Map<number, Uint8Array[]>;
}

export interface WireRequest {
  modelName: string;
  modelVersion: string;
  id: string;
  parameters: WireParameters;
  inputs: WireInput[];
  outputs: Array<{ name: string; parameters: WireParameters }>;
  rawInputContents: Uint8Array[];
  /** The message's size: what the request holds against the byte budget. */
  byteLength: number;
}

export interface MalformedRequest {
  malformed: string;
}

class WireError extends Error {}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;

class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint as a bigint (all 64 bits). */
  varint64(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError('a varint runs past the end of its message');
      const byte = this.buf[this.pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return BigInt.asUintN(64, result);
      shift += 7n;
    }
    throw new WireError('a varint is longer than 10 bytes');
  }

  /** A varint that must fit 32 bits (tags and lengths); the common one- and two-byte cases without BigInt. */
  uint32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.pos >= this.end) throw new WireError('a varint runs past the end of its message');
      const byte = this.buf[this.pos++];
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) {
        if (result > 0xffffffff) throw new WireError('a length or tag is larger than 32 bits');
        return result;
      }
    }
    throw new WireError('a length or tag is larger than 32 bits');
  }

  /** A length-delimited field's extent. */
  span(): [number, number] {
    const length = this.uint32();
    const start = this.pos;
    if (length > this.end - start) throw new WireError('a length-delimited field runs past the end of its message');
    this.pos = start + length;
    return [start, start + length];
  }

  bytes(): Uint8Array {
    const [start, end] = this.span();
    return this.buf.subarray(start, end);
  }

  string(): string {
    const [start, end] = this.span();
    return this.buf.toString('utf8', start, end);
  }

  double(): number {
    if (this.end - this.pos < 8) throw new WireError('a double runs past the end of its message');
    const value = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint64();
        return;
      case WIRE_FIXED64:
        this.advance(8);
        return;
      case WIRE_LENGTH:
        this.span();
        return;
      case WIRE_FIXED32:
        this.advance(4);
        return;
      default:
        throw new WireError(`wire type ${wireType} is not one proto3 uses`);
    }
  }

  advance(n: number): void {
    if (this.end - this.pos < n) throw new WireError('a fixed-size field runs past the end of its message');
    this.pos += n;
  }

  /** A sub-message's reader. */
  message(): Reader {
    const [start, end] = this.span();
    return new Reader(this.buf, start, end);
  }
}

function expect(wireType: number, want: number, field: string): void {
  if (wireType !== want) throw new WireError(`${field} has wire type ${wireType}, not ${want}`);
}

function readParameter(r: Reader): InferParameterValue | undefined {
  let value: InferParameterValue | undefined;
  while (!r.done) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    switch (field) {
      case 1:
        expect(wireType, WIRE_VARINT, 'bool_param');
        value = { kind: 'bool_param', value: r.varint64() !== 0n };
        break;
      case 2:
        expect(wireType, WIRE_VARINT, 'int64_param');
        value = { kind: 'int64_param', value: BigInt.asIntN(64, r.varint64()) };
        break;
      case 3:
        expect(wireType, WIRE_LENGTH, 'string_param');
        value = { kind: 'string_param', value: r.string() };
        break;
      case 4:
        expect(wireType, WIRE_FIXED64, 'double_param');
        value = { kind: 'double_param', value: r.double() };
        break;
      case 5:
        expect(wireType, WIRE_VARINT, 'uint64_param');
        value = { kind: 'uint64_param', value: r.varint64() };
        break;
      default:
        r.skip(wireType);
    }
  }
  return value;
}

/** One map<string, InferParameter> entry into `into` (a later entry for the same key wins, as protobuf says). */
function readParameterEntry(r: Reader, into: WireParameters): void {
  let key = '';
  let value: InferParameterValue | undefined;
  while (!r.done) {
    const tag = r.uint32();
    const wireType = tag & 7;
    if (tag >>> 3 === 1 && wireType === WIRE_LENGTH) key = r.string();
    else if (tag >>> 3 === 2 && wireType === WIRE_LENGTH) value = readParameter(r.message());
    else r.skip(wireType);
  }
  // A parameter with no value set is no parameter.
  if (value !== undefined) into.set(key, value);
  else into.delete(key);
}

function readShape(r: Reader, wireType: number, into: number[]): void {
  const dim = (v: bigint) => Number(BigInt.asIntN(64, v));
  if (wireType === WIRE_VARINT) {
    into.push(dim(r.varint64()));
    return;
  }
  expect(wireType, WIRE_LENGTH, 'shape');
  const packed = r.message();
  while (!packed.done) into.push(dim(packed.varint64()));
}

function readContents(r: Reader, into: Map<number, Uint8Array[]>): void {
  while (!r.done) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (!(field in CONTENTS_FIELDS)) {
      r.skip(wireType);
      continue;
    }
    const views = into.get(field) ?? [];
    into.set(field, views);
    const width = field === FP32_CONTENTS ? 4 : field === FP64_CONTENTS ? 8 : 0;
    if (width === 4 && wireType === WIRE_FIXED32) {
      r.advance(4);
      views.push(r.buf.subarray(r.pos - 4, r.pos));
    } else if (width === 8 && wireType === WIRE_FIXED64) {
      r.advance(8);
      views.push(r.buf.subarray(r.pos - 8, r.pos));
    } else if (wireType === WIRE_LENGTH) {
      const view = r.bytes();
      if (width > 0 && view.length % width !== 0)
        throw new WireError(`packed ${CONTENTS_FIELDS[field]} is not a whole number of values`);
      views.push(view);
    } else {
      // Only the presence of the other typed fields matters: this model takes none of them.
      r.skip(wireType);
    }
  }
}

function readInput(r: Reader): WireInput {
  const input: WireInput = { name: '', datatype: '', shape: [], parameters: new Map(), contents: new Map() };
  while (!r.done) {
    const tag = r.uint32();
    const wireType = tag & 7;
    switch (tag >>> 3) {
      case 1:
        expect(wireType, WIRE_LENGTH, 'inputs.name');
        input.name = r.string();
        break;
      case 2:
        expect(wireType, WIRE_LENGTH, 'inputs.datatype');
        input.datatype = r.string();
        break;
      case 3:
        readShape(r, wireType, input.shape);
        break;
      case 4:
        expect(wireType, WIRE_LENGTH, 'inputs.parameters');
        readParameterEntry(r.message(), input.parameters);
        break;
      case 5:
        expect(wireType, WIRE_LENGTH, 'inputs.contents');
        readContents(r.message(), input.contents);
        break;
      default:
        r.skip(wireType);
    }
  }
  return input;
}

function readOutput(r: Reader): { name: string; parameters: WireParameters } {
  const output = { name: '', parameters: new Map() as WireParameters };
  while (!r.done) {
    const tag = r.uint32();
    const wireType = tag & 7;
    if (tag >>> 3 === 1 && wireType === WIRE_LENGTH) output.name = r.string();
    else if (tag >>> 3 === 2 && wireType === WIRE_LENGTH) readParameterEntry(r.message(), output.parameters);
    else r.skip(wireType);
  }
  return output;
}

/** A ModelInferRequest: its tensors' bytes are views of `message`, which the request then owns. */
export function decodeInferRequest(message: Buffer): WireRequest | MalformedRequest {
  const request: WireRequest = {
    modelName: '',
    modelVersion: '',
    id: '',
    parameters: new Map(),
    inputs: [],
    outputs: [],
    rawInputContents: [],
    byteLength: message.length,
  };
  const r = new Reader(message, 0, message.length);
  try {
    while (!r.done) {
      const tag = r.uint32();
      const wireType = tag & 7;
      const field = tag >>> 3;
      if (field >= 1 && field <= 7) expect(wireType, WIRE_LENGTH, `field ${field}`);
      switch (field) {
        case 1:
          request.modelName = r.string();
          break;
        case 2:
          request.modelVersion = r.string();
          break;
        case 3:
          request.id = r.string();
          break;
        case 4:
          readParameterEntry(r.message(), request.parameters);
          break;
        case 5:
          request.inputs.push(readInput(r.message()));
          break;
        case 6:
          request.outputs.push(readOutput(r.message()));
          break;
        case 7:
          request.rawInputContents.push(r.bytes());
          break;
        default:
          r.skip(wireType);
      }
    }
  } catch (error) {
    if (error instanceof WireError) return { malformed: `the message is not a ModelInferRequest: ${error.message}` };
    throw error;
  }
  return request;
}

// ---- writing ------------------------------------------------------------------------------------------------------

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** A growable buffer for a message's small fields. */
class Writer {
  buf: Buffer;
  pos = 0;
  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(value: number): this {
    this.room(10);
    while (value >= 0x80) {
      this.buf[this.pos++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    this.buf[this.pos++] = value;
    return this;
  }

  /** An int64 varint: negative values are ten bytes of two's complement. */
  int64(value: bigint): this {
    let v = BigInt.asUintN(64, value);
    this.room(10);
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
    return this;
  }

  tag(field: number, wireType: number): this {
    return this.varint((field << 3) | wireType);
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, WIRE_LENGTH).varint(data.length);
    this.room(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
    return this;
  }

  string(field: number, text: string): this {
    const length = Buffer.byteLength(text);
    this.tag(field, WIRE_LENGTH).varint(length);
    this.room(length);
    this.pos += this.buf.write(text, this.pos);
    return this;
  }

  /** A length-delimited sub-message written by `write`. */
  message(field: number, write: (w: Writer) => void): this {
    const inner = new Writer(64);
    write(inner);
    return this.bytes(field, inner.result());
  }

  result(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export type ReplyParameter = { kind: 'string_param'; value: string } | { kind: 'int64_param'; value: bigint };

export interface WireOutput {
  name: string;
  datatype: string;
  shape: number[];
  /** The output's little-endian bytes, written as its raw_output_contents. */
  data: Uint8Array;
}

export interface WireResponse {
  modelName: string;
  modelVersion: string;
  id: string;
  parameters: Array<[string, ReplyParameter]>;
  outputs: WireOutput[];
}

function writeParameters(w: Writer, field: number, parameters: Array<[string, ReplyParameter]>): void {
  for (const [key, parameter] of parameters) {
    w.message(field, (entry) => {
      entry.string(1, key);
      entry.message(2, (value) => {
        if (parameter.kind === 'string_param') value.string(3, parameter.value);
        else value.tag(2, WIRE_VARINT).int64(parameter.value);
      });
    });
  }
}

/** Everything of a ModelInferResponse but raw_output_contents, which is last so it can be appended uncopied. */
function responseHead(response: WireResponse): Buffer {
  const w = new Writer();
  if (response.modelName !== '') w.string(1, response.modelName);
  if (response.modelVersion !== '') w.string(2, response.modelVersion);
  if (response.id !== '') w.string(3, response.id);
  writeParameters(w, 4, response.parameters);
  for (const output of response.outputs) {
    w.message(5, (o) => {
      o.string(1, output.name).string(2, output.datatype);
      if (output.shape.length > 0) {
        o.message(3, (dims) => {
          for (const d of output.shape) dims.varint(d);
        });
      }
    });
  }
  return w.result();
}

function rawSize(data: Uint8Array): number {
  return 1 + varintSize(data.length) + data.length;
}

/**
 * The response's bytes, optionally inside an outer field `wrap` (ModelStreamInferResponse.infer_response): the
 * small fields, then each output's tag, length and bytes, in one allocation.
 */
function encodeResponse(response: WireResponse, wrap?: number): Buffer {
  const head = responseHead(response);
  const size = response.outputs.reduce((n, o) => n + rawSize(o.data), head.length);
  const prefix = wrap === undefined ? 0 : 1 + varintSize(size);
  const out = Buffer.allocUnsafe(prefix + size);
  let pos = 0;
  const varint = (value: number) => {
    while (value >= 0x80) {
      out[pos++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    out[pos++] = value;
  };
  if (wrap !== undefined) {
    varint((wrap << 3) | WIRE_LENGTH);
    varint(size);
  }
  pos += head.copy(out, pos);
  for (const output of response.outputs) {
    varint((6 << 3) | WIRE_LENGTH);
    varint(output.data.length);
    out.set(output.data, pos);
    pos += output.data.length;
  }
  return out;
}

export function encodeInferResponse(response: WireResponse): Buffer {
  return encodeResponse(response);
}

/** A ModelStreamInferResponse carrying a response. */
export function encodeStreamResponse(response: WireResponse): Buffer {
  return encodeResponse(response, 2);
}

/** A ModelStreamInferResponse carrying an error, with the request's id in its infer_response as Triton sends it. */
export function encodeStreamError(message: string, id: string, modelName: string, modelVersion: string): Buffer {
  const w = new Writer();
  w.string(1, message);
  w.message(2, (inner) => {
    if (modelName !== '') inner.string(1, modelName);
    if (modelVersion !== '') inner.string(2, modelVersion);
    if (id !== '') inner.string(3, id);
  });
  return w.result();
}
