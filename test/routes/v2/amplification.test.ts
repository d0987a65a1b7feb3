/**
 * /v2 inference without amplification: an output listed twice is refused (each listing would write the whole
 * tensor again), and large JSON headers and replies are parsed and written by pool workers with the same bytes,
 * and the same errors, as the main thread gives for small ones.
 */
import type { FastifyInstance } from 'fastify';
import t, { type Test } from 'tap';
import { type InferCall, parseInferHeader, readInferCall } from '../../../src/codec/v2-infer.js';
import type { TensorLimits } from '../../../src/dropout/tensor.js';
import { readInferFast } from '../../../src/offload/infer-tasks.js';
import { OffloadPool } from '../../../src/offload/pool.js';
import { startApp, testConfig } from '../../helpers.js';
import { genInput } from '../../reference.js';

const URL_INFER = '/v2/models/dropout/infer';
// Load shedding is off: the inline reference app stalls its own event loop on purpose, and the machine may be busy.
/** Every JSON header goes to a worker, and so does every JSON reply but the empty ones. */
const WORKER_ENV = { INLINE_MAX_JSON_BYTES: '0', MAX_EVENT_LOOP_DELAY_MS: '0' };
/** Nothing does: the inline path, the reference for the worker's bytes. */
const INLINE_ENV = { INLINE_MAX_JSON_BYTES: String(2 ** 30), MAX_EVENT_LOOP_DELAY_MS: '0' };

function infer(app: FastifyInstance, payload: string | Buffer, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: URL_INFER,
    headers: { 'content-type': 'application/json', ...headers },
    payload,
  });
}

function request(data: unknown, shape: number[], extra: Record<string, unknown> = {}, datatype = 'FP32'): string {
  return JSON.stringify({
    id: 'amp',
    inputs: [{ name: 'input', shape, datatype, data }],
    parameters: { p: 0.3, seed: '12345' },
    ...extra,
  });
}

/** A header that announces 8 bytes of binary data where 4 follow. */
const LYING = '{"inputs":[{"name":"input","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}';

interface TaskCounts {
  decode: number;
  encode: number;
}

/**
 * Counts /v2 JSON tasks run on a pool, to show which path a request took: `counted(counts, send)` adds to `counts`
 * the tasks run while `send` runs. Every pool's are seen, so requests are sent one at a time.
 */
function taskCounter(t: Test): <T>(counts: TaskCounts, send: () => Promise<T>) => Promise<T> {
  const decode = t.capture(OffloadPool.prototype, 'decodeInfer', OffloadPool.prototype.decodeInfer);
  const encode = t.capture(OffloadPool.prototype, 'encodeInfer', OffloadPool.prototype.encodeInfer);
  return async (counts, send) => {
    decode();
    encode();
    const result = await send();
    counts.decode += decode().length;
    counts.encode += encode().length;
    return result;
  };
}

t.test('an output listed more than once is refused, on both paths', async (t) => {
  for (const env of [INLINE_ENV, WORKER_ENV]) {
    const app = await startApp(t, env);
    const cases: Array<[unknown[], string]> = [
      [[{ name: 'output' }, { name: 'output' }], 'output "output" is requested more than once'],
      [Array.from({ length: 21 }, () => ({ name: 'output' })), 'output "output" is requested more than once'],
      [
        [{ name: 'mask' }, { name: 'output' }, { name: 'mask', parameters: { binary_data: true } }],
        'output "mask" is requested more than once',
      ],
      [
        [{ name: 'output' }, { name: 'logits' }],
        'unknown output "logits"; model dropout has outputs "output" and "mask"',
      ],
    ];
    for (const [outputs, message] of cases) {
      const res = await infer(app, request([1, 2, 3, 4], [4], { outputs }));
      t.equal(res.statusCode, 400, `${env.INLINE_MAX_JSON_BYTES}: ${message}`);
      t.equal(res.headers['content-type'], 'application/json');
      t.same(res.json(), { error: message });
    }
    const both = await infer(app, request([1, 2, 3, 4], [4], { outputs: [{ name: 'mask' }, { name: 'output' }] }));
    t.equal(both.statusCode, 200, 'each output once is fine');
    t.same(
      both.json().outputs.map((o: { name: string }) => o.name),
      ['mask', 'output'],
    );
  }
});

t.test('a large JSON request gives the same reply bytes on the worker path as inline', async (t) => {
  const worker = await startApp(t, { ...WORKER_ENV, INLINE_MAX_JSON_BYTES: '1024' });
  const inline = await startApp(t, INLINE_ENV);
  const counted = taskCounter(t);
  const tasks = { decode: 0, encode: 0 };
  const inlineTasks = { decode: 0, encode: 0 };
  const n = 300_000;
  const x = Array.from(new Float32Array(genInput(n)));
  // JSON.stringify writes -0 as 0 and has no NaN or infinities: the protocol's spellings are spliced in.
  const specials = request(x, [n + 4], { outputs: [{ name: 'output' }, { name: 'mask' }] }).replace(
    '"data":[',
    '"data":[-0,"NaN","Infinity","-Infinity",',
  );
  const rows = Array.from({ length: n / 600 }, (_, r) => x.slice(r * 600, (r + 1) * 600));
  const bodies: Array<[string, string, Record<string, string>?]> = [
    ['flat float32, output and mask as JSON', request(x, [n], { outputs: [{ name: 'output' }, { name: 'mask' }] })],
    ['with -0, "NaN" and the infinities', specials],
    ['nested float32, default output', request(rows, [n / 600, 600])],
    [
      'mask only, as JSON',
      request(x, [n], { outputs: [{ name: 'mask' }], parameters: { p: 0.5, seed: 7, variant: 'alpha' } }),
    ],
    [
      'output as JSON, mask as binary',
      request(x, [n], { outputs: [{ name: 'output' }, { name: 'mask', parameters: { binary_data: true } }] }),
    ],
    ['float64', request(x.slice(0, 40_000), [40_000], { outputs: [{ name: 'output' }, { name: 'mask' }] }, 'FP64')],
    ['float16', request(x.slice(0, 40_000), [200, 200], {}, 'FP16')],
    ['bfloat16, eval mode', request(x.slice(0, 40_000), [40_000], { parameters: { mode: 'eval' } }, 'BF16')],
  ];
  // A binary input with a small header: the header is read inline on both, the JSON reply written by a worker.
  const binary = Buffer.from(new Float32Array(x).buffer);
  const binaryHeader = JSON.stringify({
    inputs: [{ name: 'input', shape: [n], datatype: 'FP32', parameters: { binary_data_size: binary.length } }],
    outputs: [{ name: 'output' }, { name: 'mask' }],
    parameters: { seed: 3 },
  });
  for (const [name, body] of bodies) {
    const a = await counted(tasks, () => infer(worker, body));
    const b = await counted(inlineTasks, () => infer(inline, body));
    t.equal(a.statusCode, 200, `${name}: ${a.statusCode === 200 ? '' : a.body}`);
    t.equal(a.headers['content-type'], b.headers['content-type'], `${name}: content type`);
    t.equal(a.headers['inference-header-content-length'], b.headers['inference-header-content-length']);
    t.ok(a.rawPayload.equals(b.rawPayload), `${name}: the same ${a.rawPayload.length} bytes`);
  }
  const payload = Buffer.concat([Buffer.from(binaryHeader), binary]);
  const headers = { 'inference-header-content-length': String(Buffer.byteLength(binaryHeader)) };
  const a = await counted(tasks, () => infer(worker, payload, headers));
  const b = await counted(inlineTasks, () => infer(inline, payload, headers));
  t.equal(a.statusCode, 200);
  t.ok(a.rawPayload.equals(b.rawPayload), `binary input, JSON reply: the same ${a.rawPayload.length} bytes`);
  const mask = a.json().outputs[1].data as boolean[];
  t.equal(mask.length, n);
  t.ok(mask.includes(true) && mask.includes(false), 'the mask has both values');
  t.same(tasks, { decode: bodies.length, encode: bodies.length + 1 }, 'the worker app parsed and wrote on workers');
  t.same(inlineTasks, { decode: 0, encode: 0 }, 'the inline app did neither');
});

t.test("errors from the worker path are the inline path's errors", async (t) => {
  const worker = await startApp(t, WORKER_ENV);
  const inline = await startApp(t, INLINE_ENV);
  const counted = taskCounter(t);
  const tasks = { decode: 0, encode: 0 };
  const input = (fields: Record<string, unknown>) => ({ name: 'input', shape: [2], datatype: 'FP32', ...fields });
  const body = (fields: Record<string, unknown>) =>
    JSON.stringify({ inputs: [input({ data: [1, 2] })], parameters: { seed: 5 }, ...fields });
  const bodies: Array<[string, string | Buffer, Record<string, string>?]> = [
    ['malformed JSON', '{"inputs":[{"name":"input","shape":[2],"datatype":"FP32","data":[1,2]}'],
    ['malformed inside data', '{"inputs":[{"name":"input","shape":[2],"datatype":"FP32","data":[1,2,]}]}'],
    ['not an object', '[1,2,3]'],
    ['no inputs', '{}'],
    ['shape of strings', body({ inputs: [input({ shape: ['2'], data: [1, 2] })] })],
    ['p out of range', body({ parameters: { p: 2 } })],
    ['seed too large', body({ parameters: { seed: 2 ** 60 } })],
    ['two inputs', body({ inputs: [input({ data: [1, 2] }), input({ name: 'x', data: [1, 2] })] })],
    ['wrong input name', body({ inputs: [input({ name: 'x', data: [1, 2] })] })],
    ['INT32', body({ inputs: [input({ datatype: 'INT32', data: [1, 2] })] })],
    ['shape mismatch', body({ inputs: [input({ shape: [3], data: [1, 2] })] })],
    ['nested mismatch', body({ inputs: [input({ shape: [2, 2], data: [[1, 2], [3]] })] })],
    [
      'ragged',
      body({
        inputs: [
          input({
            shape: [2, 2],
            data: [
              [1, 2],
              [3, [4]],
            ],
          }),
        ],
      }),
    ],
    ['non-numeric', body({ inputs: [input({ data: [1, 'x'] })] })],
    ['too deep', body({ inputs: [input({ shape: [1], data: JSON.parse(`${'['.repeat(40)}1${']'.repeat(40)}`) })] })],
    ['no data', body({ inputs: [input({})] })],
    ['data not an array', body({ inputs: [input({ data: { a: 1 } })] })],
    ['duplicate output', body({ outputs: [{ name: 'output' }, { name: 'output' }] })],
    ['unknown output', body({ outputs: [{ name: 'logits' }] })],
    ['a later data member wins', '{"inputs":[{"name":"input","shape":[2],"datatype":"FP32","data":[1,2],"data":[3]}]}'],
    ['a later inputs member wins', `{"inputs":[${JSON.stringify(input({ data: [1, 2] }))}],"inputs":[]}`],
    [
      'binary bytes after a JSON input',
      Buffer.concat([Buffer.from(body({})), Buffer.alloc(8)]),
      {
        'inference-header-content-length': String(body({}).length),
      },
    ],
    [
      'binary size that lies',
      Buffer.concat([Buffer.from(LYING), Buffer.alloc(4)]),
      { 'inference-header-content-length': String(LYING.length) },
    ],
    ['valid, escaped key', body({}).replace('"data"', '"d\\u0061ta"')],
    ['valid, whitespace', body({}).replaceAll(',', ' ,\n ').replaceAll(':', '\t: ')],
  ];
  for (const [name, payload, headers] of bodies) {
    const a = await counted(tasks, () => infer(worker, payload, headers));
    const b = await infer(inline, payload, headers);
    t.equal(a.statusCode, b.statusCode, `${name}: status ${b.statusCode}`);
    t.equal(a.body, b.body, `${name}: ${b.body.slice(0, 160)}`);
  }
  t.equal(tasks.decode, bodies.length, 'every header went to a worker');
});

t.test('the worker reads inputs[0].data with the fast reader when it can, with the same call', async (t) => {
  const limits: TensorLimits = { maxElements: 1 << 20, maxRank: 32, inlineMaxElements: -1 };
  const none = new Uint8Array(0);
  const plain = (call: InferCall) => ({ ...call, tensor: { ...call.tensor, data: Array.from(call.tensor.data) } });
  const input = '{"name":"input","shape":[2,2],"datatype":"FP64","data":[[1.5,-2e-300],[3,"NaN"]]}';
  const cases: Array<[string, string, boolean]> = [
    ['plain', `{"inputs":[${input}],"parameters":{"seed":1}}`, true],
    ['escaped keys', `{"\\u0069nputs":[${input.replace('"data"', '"\\u0064ata"')}]}`, true],
    ['a later inputs wins', `{"inputs":[{"data":[9]}],"inputs":[${input}]}`, true],
    ['a later data wins', `{"inputs":[${input.replace('"data"', '"data":[7],"data"')}]}`, true],
    ['a later data that is not an array', `{"inputs":[${input.replace('}', ',"data":null}')}]}`, false],
    ['the array is not inputs[0]', `{"inputs":[{"name":"y"},${input}]}`, false],
    ['ragged', `{"inputs":[${input.replace('[3,"NaN"]', '[3]')}]}`, false],
  ];
  for (const [name, text, fast] of cases) {
    const header = Buffer.from(text);
    const attempt = (read: () => InferCall) => {
      try {
        return plain(read());
      } catch (error) {
        return (error as Error).message;
      }
    };
    const whole = attempt(() => readInferCall(parseInferHeader(header), none, limits));
    const quick = readInferFast(header, none, limits);
    t.equal(quick !== undefined, fast, `${name}: ${fast ? 'read fast' : 'declined'}`);
    if (quick) t.same(plain(quick), whole, `${name}: the same call`);
  }
});

t.test("an aborted /v2 task rejects with the abort's reason, and the pool keeps serving", async (t) => {
  const config = testConfig(WORKER_ENV);
  const pool = new OffloadPool({
    workers: config.workers,
    chunkElements: config.chunkElements,
    inlineMaxElements: config.inlineMaxElements,
    workerNice: config.workerNice,
    onError: (error) => t.error(error),
  });
  t.teardown(() => pool.close());
  const body = Buffer.from(request([1, 2, 3, 4], [4]));
  const shared = new Uint8Array(new SharedArrayBuffer(body.length));
  shared.set(body);
  const task = {
    body: { buffer: shared.buffer as SharedArrayBuffer, byteOffset: 0, byteLength: body.length },
    headerLength: body.length,
    limits: { maxElements: 1 << 20, maxRank: 32, inlineMaxElements: -1 },
  };
  const gone = new AbortController();
  gone.abort(new Error('the client went away'));
  await t.rejects(pool.decodeInfer(task, gone.signal), { message: 'the client went away' });
  const later = new AbortController();
  const running = pool.decodeInfer(task, later.signal);
  later.abort(new Error('deadline'));
  await t.rejects(running, { message: 'deadline' });
  const decoded = await pool.decodeInfer(task);
  t.ok(decoded.ok, 'the pool still decodes');
});
