/**
 * The wire format: src/grpc/proto's packages, services, messages, field numbers and types against Triton's own
 * (../shared/clients/protos, the files tritonclient's stubs are generated from), and the hand-written ModelInfer
 * codec (src/grpc/wire.ts) against protobufjs reading and writing those Triton definitions.
 */
import { fileURLToPath } from 'node:url';
import type { MethodDefinition } from '@grpc/grpc-js';
import { loadSync, type MessageTypeDefinition, type PackageDefinition } from '@grpc/proto-loader';
import t from 'tap';
import {
  decodeInferRequest,
  encodeInferResponse,
  encodeStreamError,
  encodeStreamResponse,
} from '../../src/grpc/wire.js';
import { SHARED_DIR } from '../helpers.js';

const OURS = fileURLToPath(new URL('../../src/grpc/proto/', import.meta.url));
const TRITON = `${SHARED_DIR}clients/protos/`;
const OPTIONS = { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true };

const ours = { ...loadSync(`${OURS}inference.proto`, OPTIONS), ...loadSync(`${OURS}health.proto`, OPTIONS) };
const triton = {
  ...loadSync(`${TRITON}grpc_service.proto`, { ...OPTIONS, includeDirs: [TRITON] }),
  ...loadSync(`${TRITON}health.proto`, OPTIONS),
};

interface Field {
  name: string;
  number: number;
  type: string;
  label: string;
  typeName: string;
}

function fields(def: PackageDefinition, name: string): Field[] | undefined {
  const message = def[name] as MessageTypeDefinition<object, object> | undefined;
  if (message === undefined || !('type' in message)) return undefined;
  return (message.type as { field: Field[] }).field;
}

t.test('every message and field of ours is Triton’s: same number, type, label and type name', async (t) => {
  const problems: string[] = [];
  let checked = 0;
  for (const name of Object.keys(ours)) {
    const mine = fields(ours, name);
    if (mine === undefined) continue;
    const theirs = fields(triton, name);
    if (theirs === undefined) {
      // Watch's messages are the standard health protocol's; Triton's health.proto has them too.
      problems.push(`${name} is not a message of Triton's protos`);
      continue;
    }
    for (const field of mine) {
      const match = theirs.find((f) => f.name === field.name);
      checked++;
      if (match === undefined) problems.push(`${name}.${field.name} is not in Triton's ${name}`);
      else {
        for (const key of ['number', 'type', 'label', 'typeName'] as const) {
          if (match[key] !== field[key]) problems.push(`${name}.${field.name} ${key} ${field[key]} ≠ ${match[key]}`);
        }
      }
    }
  }
  t.same(problems, []);
  t.ok(checked >= 60, `${checked} fields compared`);
  // The inference messages are complete: nothing of Triton's left out of what ModelInfer reads and writes.
  for (const name of [
    'inference.ModelInferRequest',
    'inference.ModelInferRequest.InferInputTensor',
    'inference.ModelInferResponse',
    'inference.InferParameter',
    'inference.InferTensorContents',
    'inference.ModelStreamInferResponse',
  ]) {
    t.equal(fields(ours, name)?.length, fields(triton, name)?.length, `${name} has all of Triton's fields`);
  }
});

t.test('DataType’s values are Triton’s', async (t) => {
  const values = (def: PackageDefinition) =>
    (def['inference.DataType'] as unknown as { type: { value: Array<{ name: string; number: number }> } }).type.value;
  t.same(values(ours), values(triton));
});

t.test('every RPC of ours is Triton’s: same path, message types and streaming', async (t) => {
  for (const service of ['inference.GRPCInferenceService', 'grpc.health.v1.Health']) {
    const mine = ours[service] as Record<
      string,
      MethodDefinition<unknown, unknown> & {
        requestType: { type: { name: string } };
        responseType: { type: { name: string } };
      }
    >;
    const theirs = triton[service] as typeof mine;
    for (const [name, method] of Object.entries(mine)) {
      if (service === 'grpc.health.v1.Health' && name === 'Watch') {
        // Triton's health.proto has only Check; Watch is grpc/health/v1's, a server stream of the same response.
        t.ok(method.responseStream && !method.requestStream, 'Watch streams responses');
        continue;
      }
      const other = theirs[name];
      t.ok(other, `${service}/${name} is Triton's`);
      if (!other) continue;
      t.equal(method.path, other.path, `${name} path`);
      t.equal(method.requestStream, other.requestStream, `${name} request streaming`);
      t.equal(method.responseStream, other.responseStream, `${name} response streaming`);
      t.equal(method.requestType.type.name, other.requestType.type.name, `${name} request type`);
      t.equal(method.responseType.type.name, other.responseType.type.name, `${name} response type`);
    }
  }
});

const tritonInfer = (triton['inference.GRPCInferenceService'] as Record<string, MethodDefinition<object, object>>)
  .ModelInfer;
const tritonStream = (triton['inference.GRPCInferenceService'] as Record<string, MethodDefinition<object, object>>)
  .ModelStreamInfer;

t.test('a request protobufjs writes from Triton’s proto is read field for field, tensors as views', async (t) => {
  const raw = Buffer.from(new Float32Array([1, -2, 3.5, 0]).buffer);
  const bytes = tritonInfer.requestSerialize({
    model_name: 'dropout',
    model_version: '1',
    id: 'req-1',
    parameters: {
      p: { double_param: 0.25 },
      seed: { uint64_param: '18446744073709551615' },
      offset: { int64_param: '-5' },
      mode: { string_param: 'train' },
      flag: { bool_param: true },
    },
    inputs: [
      {
        name: 'input',
        datatype: 'FP32',
        shape: ['2', '-2'],
        parameters: { x: { int64_param: '1' } },
        contents: { fp32_contents: [1.5, -0.25], int_contents: [7] },
      },
    ],
    outputs: [{ name: 'output' }, { name: 'mask', parameters: { binary_data: { bool_param: true } } }],
    raw_input_contents: [raw],
  });
  const request = decodeInferRequest(bytes);
  if ('malformed' in request) throw new Error(request.malformed);
  t.equal(request.modelName, 'dropout');
  t.equal(request.modelVersion, '1');
  t.equal(request.id, 'req-1');
  t.equal(request.byteLength, bytes.length);
  t.same(Object.fromEntries(request.parameters), {
    p: { kind: 'double_param', value: 0.25 },
    seed: { kind: 'uint64_param', value: 2n ** 64n - 1n },
    offset: { kind: 'int64_param', value: -5n },
    mode: { kind: 'string_param', value: 'train' },
    flag: { kind: 'bool_param', value: true },
  });
  const [input] = request.inputs;
  t.equal(input.name, 'input');
  t.equal(input.datatype, 'FP32');
  t.same(input.shape, [2, -2]);
  t.same(Object.fromEntries(input.parameters), { x: { kind: 'int64_param', value: 1n } });
  t.same([...input.contents.keys()].sort(), [2, 6], 'typed contents present: int_contents and fp32_contents');
  t.same([...new Float32Array(Uint8Array.from(input.contents.get(6)?.[0] ?? []).buffer)], [1.5, -0.25]);
  t.same(
    request.outputs.map((o) => o.name),
    ['output', 'mask'],
  );
  t.equal(request.rawInputContents.length, 1);
  t.ok(Buffer.from(request.rawInputContents[0]).equals(raw), 'raw_input_contents');
  t.equal(request.rawInputContents[0].buffer, bytes.buffer, 'a view of the message, not a copy');
});

t.test('malformed messages are reported, never thrown', async (t) => {
  for (const bytes of [
    Buffer.from([0x0a, 0x05, 0x61]), // a string that runs past the end
    Buffer.from([0x3a, 0xff, 0xff, 0xff, 0xff, 0x7f]), // a length past 32 bits
    Buffer.from([0x0b]), // wire type 3 (groups)
    Buffer.from([0x08, 0x01]), // model_name as a varint
  ]) {
    const decoded = decodeInferRequest(bytes);
    t.ok('malformed' in decoded, `${bytes.toString('hex')}: ${'malformed' in decoded ? decoded.malformed : ''}`);
  }
  t.notOk('malformed' in decodeInferRequest(Buffer.alloc(0)), 'an empty message is a request with nothing set');
});

t.test('responses protobufjs reads with Triton’s proto', async (t) => {
  const output = new Float32Array([0, 2, -0, 8]);
  const mask = Uint8Array.from([0, 1, 1, 1]);
  const response = {
    modelName: 'dropout',
    modelVersion: '1',
    id: 'r',
    parameters: [
      ['seed', { kind: 'string_param', value: '18446744073709551615' }],
      ['offset', { kind: 'int64_param', value: 3n }],
      ['kept', { kind: 'int64_param', value: -1n }],
    ] as Array<[string, { kind: 'string_param'; value: string } | { kind: 'int64_param'; value: bigint }]>,
    outputs: [
      { name: 'output', datatype: 'FP32', shape: [2, 2], data: new Uint8Array(output.buffer) },
      { name: 'mask', datatype: 'BOOL', shape: [2, 2], data: mask },
    ],
  };
  const decoded = tritonInfer.responseDeserialize(encodeInferResponse(response)) as Record<string, unknown>;
  t.match(decoded, {
    model_name: 'dropout',
    model_version: '1',
    id: 'r',
    parameters: {
      seed: { string_param: '18446744073709551615' },
      offset: { int64_param: '3' },
      kept: { int64_param: '-1' },
    },
    outputs: [
      { name: 'output', datatype: 'FP32', shape: ['2', '2'] },
      { name: 'mask', datatype: 'BOOL', shape: ['2', '2'] },
    ],
  });
  const raws = decoded.raw_output_contents as Buffer[];
  t.ok(raws[0].equals(Buffer.from(output.buffer)), 'output bytes, negative zero included');
  t.ok(raws[1].equals(Buffer.from(mask)), 'mask bytes');

  const streamed = tritonStream.responseDeserialize(encodeStreamResponse(response)) as Record<string, unknown>;
  t.equal(streamed.error_message ?? '', '');
  t.match(streamed.infer_response, { id: 'r', outputs: [{ name: 'output' }, { name: 'mask' }] });
  const failed = tritonStream.responseDeserialize(encodeStreamError('p is 2', 'r7', 'dropout', '')) as Record<
    string,
    unknown
  >;
  t.equal(failed.error_message, 'p is 2');
  t.match(failed.infer_response, { id: 'r7', model_name: 'dropout' });

  const big = new Uint8Array(300_000).fill(7);
  const large = tritonInfer.responseDeserialize(
    encodeInferResponse({ ...response, outputs: [{ name: 'output', datatype: 'FP32', shape: [75_000], data: big }] }),
  ) as { raw_output_contents: Buffer[] };
  t.ok(large.raw_output_contents[0].equals(Buffer.from(big)), 'a multi-byte length prefix');
});
