/**
 * The Open Inference Protocol as its clients speak it: byte-exact replays of what Python's tritonclient.http sends,
 * parsed back the way that client parses replies.
 */
import t from 'tap';
import { startApp } from '../../helpers.js';
import { genInput, referenceDropout } from '../../reference.js';

/** What tritonclient.http's InferenceServerClient.infer() puts on the wire for one binary FP32 input. */
function tritonBinaryRequest(x: Float32Array, shape: number[], outputs: string, parameters: string) {
  const header = `{"inputs":[{"name":"input","shape":[${shape.join(',')}],"datatype":"FP32","parameters":{"binary_data_size":${x.byteLength}}}],"outputs":${outputs},"parameters":${parameters}}`;
  return { header, body: Buffer.concat([Buffer.from(header), Buffer.from(x.buffer, x.byteOffset, x.byteLength)]) };
}

/** tritonclient's InferResult: split at Inference-Header-Content-Length, then walk outputs by binary_data_size. */
function parseTritonReply(headers: Record<string, unknown>, raw: Buffer) {
  const length = Number(headers['inference-header-content-length'] ?? raw.length);
  const header = JSON.parse(raw.subarray(0, length).toString());
  const binary: Record<string, Buffer> = {};
  let at = length;
  for (const o of header.outputs) {
    const size = o.parameters?.binary_data_size;
    if (size !== undefined) {
      binary[o.name] = raw.subarray(at, at + size);
      at += size;
    }
  }
  return { header, binary };
}

t.test('server and model metadata, health and readiness', async (t) => {
  const app = await startApp(t);
  const server = await app.inject('/v2');
  t.equal(server.headers['content-type'], 'application/json');
  t.match(server.json(), { name: 'dropout-service', extensions: ['binary_tensor_data'] });
  t.same((await app.inject('/v2/health/live')).json(), { live: true });
  t.same((await app.inject('/v2/health/ready')).json(), { ready: true });
  for (const url of ['/v2/models/dropout', '/v2/models/dropout/versions/1']) {
    const meta = (await app.inject(url)).json();
    t.match(meta, { name: 'dropout', inputs: [{ name: 'input', shape: [-1] }] });
    t.same(
      meta.outputs.map((o: { name: string }) => o.name),
      ['output', 'mask'],
    );
  }
  t.same((await app.inject('/v2/models/dropout/ready')).json(), { name: 'dropout', ready: true });
  const missing = await app.inject('/v2/models/dropout/versions/7');
  t.equal(missing.statusCode, 404);
  t.equal(missing.headers['content-type'], 'application/json');
  t.match(missing.json(), { error: /version 7/ });
  t.equal((await app.inject('/v2/models/resnet')).statusCode, 404);
});

t.test("tritonclient's binary request (no Content-Type) and binary reply, checked against the kernel", async (t) => {
  const app = await startApp(t);
  const x = new Float32Array(genInput(24));
  const { header, body } = tritonBinaryRequest(
    x,
    [2, 3, 4],
    '[{"name":"output","parameters":{"binary_data":true}},{"name":"mask","parameters":{"binary_data":true}}]',
    '{"p":0.25,"seed":42}',
  );
  const res = await app.inject({
    method: 'POST',
    url: '/v2/models/dropout/infer',
    headers: { 'inference-header-content-length': String(Buffer.byteLength(header)) },
    payload: body,
  });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'application/octet-stream');
  const { header: reply, binary } = parseTritonReply(res.headers, res.rawPayload);
  t.equal(reply.model_name, 'dropout');
  t.equal(reply.parameters.seed, '42');
  const ref = referenceDropout(x, 0.25, 42n);
  t.same(binary.output, Buffer.from(ref.out.buffer));
  t.same(reply.outputs[0], {
    name: 'output',
    datatype: 'FP32',
    shape: [2, 3, 4],
    parameters: { binary_data_size: 96 },
  });
  t.same(
    Array.from(binary.mask),
    Array.from(ref.out, (v, i) => (v !== 0 || x[i] === 0 ? 1 : 0)),
  );
  t.equal(reply.outputs[1].datatype, 'BOOL');
});

t.test('all-JSON request with binary_data_output, and all-JSON replies', async (t) => {
  const app = await startApp(t);
  const x = Array.from(new Float32Array(genInput(6)));
  const request = {
    id: 'req-7',
    inputs: [{ name: 'input', shape: [2, 3], datatype: 'FP32', data: x }],
    parameters: { binary_data_output: true, seed: '99', p: 0.5 },
  };
  const binaryReply = await app.inject({
    method: 'POST',
    url: '/v2/models/dropout/versions/1/infer',
    headers: { 'content-type': 'application/octet-stream' },
    payload: JSON.stringify(request),
  });
  const parsed = parseTritonReply(binaryReply.headers, binaryReply.rawPayload);
  t.equal(parsed.header.id, 'req-7', 'id echoed');
  const ref = referenceDropout(new Float32Array(x), 0.5, 99n);
  t.same(parsed.binary.output, Buffer.from(ref.out.buffer));

  const jsonReply = await app.inject({
    method: 'POST',
    url: '/v2/models/dropout/infer',
    headers: { 'content-type': 'application/json' },
    payload: {
      ...request,
      parameters: { seed: '99', p: 0.5 },
      inputs: [{ ...request.inputs[0], data: [x.slice(0, 3), x.slice(3)] }],
    },
  });
  t.equal(jsonReply.headers['content-type'], 'application/json');
  t.equal(jsonReply.headers['inference-header-content-length'], undefined);
  const out = jsonReply.json().outputs[0];
  t.same(out.data.map(Math.fround), Array.from(ref.out), 'nested data in, flat data out, same values');
});

/** A header that announces 8 bytes of binary data where 4 follow. */
const LYING = '{"inputs":[{"name":"input","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}';

t.test('errors are {"error"} with Content-Type application/json and 400/404/413', async (t) => {
  const app = await startApp(t, { MAX_BODY_BYTES: '4096' });
  const cases: Array<[string, string | Buffer, Record<string, string>, number, RegExp]> = [
    ['malformed JSON', '{"inputs":', { 'content-type': 'application/json' }, 400, /not valid JSON/],
    [
      'two inputs',
      JSON.stringify({
        inputs: [
          { name: 'input', shape: [1], datatype: 'FP32', data: [1] },
          { name: 'x', shape: [1], datatype: 'FP32', data: [1] },
        ],
      }),
      {},
      400,
      /exactly one input/,
    ],
    [
      'INT32 input',
      JSON.stringify({ inputs: [{ name: 'input', shape: [1], datatype: 'INT32', data: [1] }] }),
      {},
      400,
      /INT32 is not supported/,
    ],
    [
      'shape mismatch',
      JSON.stringify({ inputs: [{ name: 'input', shape: [3], datatype: 'FP32', data: [1, 2] }] }),
      {},
      400,
      /shape/,
    ],
    [
      'binary size that lies',
      Buffer.concat([Buffer.from(LYING), Buffer.alloc(4)]),
      { 'inference-header-content-length': String(LYING.length) },
      400,
      /binary_data_size/,
    ],
    [
      'header length past the body',
      '{}',
      { 'inference-header-content-length': '999' },
      400,
      /Inference-Header-Content-Length/,
    ],
    [
      'p out of range',
      JSON.stringify({ inputs: [{ name: 'input', shape: [1], datatype: 'FP32', data: [1] }], parameters: { p: 2 } }),
      {},
      400,
      /parameters\/p/,
    ],
    [
      'unknown output',
      JSON.stringify({
        inputs: [{ name: 'input', shape: [1], datatype: 'FP32', data: [1] }],
        outputs: [{ name: 'logits' }],
      }),
      {},
      400,
      /unknown output/,
    ],
    ['body over the limit', Buffer.alloc(5000), { 'content-type': 'application/octet-stream' }, 413, /./],
  ];
  for (const [name, payload, headers, status, message] of cases) {
    const res = await app.inject({ method: 'POST', url: '/v2/models/dropout/infer', headers, payload });
    t.equal(res.statusCode, status, name);
    t.equal(res.headers['content-type'], 'application/json', `${name}: content type`);
    t.match(res.json(), { error: message }, `${name}: ${res.body}`);
  }
});
