import type { InjectOptions } from 'fastify';
import t from 'tap';
import { f32Bytes, postBinary, postJson, startApp } from '../../helpers.js';
import { genInput, referenceDropout } from '../../reference.js';

type Case = [name: string, send: 'json' | 'binary', body: unknown, query: string, status: number, code: string];

const cases: Case[] = [
  ['ragged nested array', 'json', { input: [[1, 2], [3]] }, '', 400, 'RAGGED_ARRAY'],
  [
    'array where a number belongs',
    'json',
    {
      input: [
        [1, 2],
        [3, [4]],
      ],
    },
    '',
    400,
    'RAGGED_ARRAY',
  ],
  ['number where an array belongs', 'json', { input: [1, [2]] }, '', 400, 'RAGGED_ARRAY'],
  ['flat input that does not fill shape', 'json', { input: [1, 2, 3], shape: [2, 2] }, '', 400, 'SHAPE_MISMATCH'],
  ['nested input that contradicts shape', 'json', { input: [[1, 2]], shape: [2, 1] }, '', 400, 'SHAPE_MISMATCH'],
  ['p above 1', 'json', { input: [1], p: 1.5 }, '', 400, 'P_OUT_OF_RANGE'],
  ['p below 0', 'json', { input: [1], p: -0.1 }, '', 400, 'P_OUT_OF_RANGE'],
  ['p not a number', 'json', { input: [1], p: 'half' }, '', 400, 'P_OUT_OF_RANGE'],
  ['seed not an integer', 'json', { input: [1], seed: 1.5 }, '', 400, 'BAD_SEED'],
  ['seed text', 'json', { input: [1], seed: 'abc' }, '', 400, 'BAD_SEED'],
  ['seed of 2^64', 'json', { input: [1], seed: '18446744073709551616' }, '', 400, 'BAD_SEED'],
  ['seed below −2^63', 'json', { input: [1], seed: '-9223372036854775809' }, '', 400, 'BAD_SEED'],
  ['seed as an unsafe JSON number', 'json', { input: [1], seed: 2 ** 60 }, '', 400, 'BAD_SEED'],
  ['negative offset', 'json', { input: [1], offset: -1 }, '', 400, 'BAD_OFFSET'],
  ['offset past 2^53', 'json', { input: [1, 2], offset: String(2 ** 53 - 1) }, '', 400, 'BAD_OFFSET'],
  ['a value that is text', 'json', { input: [1, 'two'] }, '', 400, 'NON_NUMERIC'],
  ['a value that is a boolean', 'json', { input: [[true]] }, '', 400, 'NON_NUMERIC'],
  ['a value that is null', 'json', { input: [null] }, '', 400, 'NON_NUMERIC'],
  ['negative dim', 'json', { input: [1], shape: [-1] }, '', 400, 'BAD_SHAPE'],
  ['unknown field', 'json', { input: [1], sead: 3 }, '', 400, 'INVALID_REQUEST'],
  ['missing input', 'json', { p: 0.5 }, '', 400, 'INVALID_REQUEST'],
  ['body that is not an object', 'json', [1, 2, 3], '', 400, 'INVALID_REQUEST'],
  ['malformed JSON', 'json', '{"input": [1, 2', '', 400, 'MALFORMED_JSON'],
  ['unsupported dtype', 'json', { input: [1], dtype: 'int8' }, '', 415, 'UNSUPPORTED_DTYPE'],
  ['binary length not a multiple of 4', 'binary', Buffer.alloc(10), '', 400, 'BAD_BINARY_LENGTH'],
  ['binary length not a multiple of 8', 'binary', Buffer.alloc(12), 'dtype=float64', 400, 'BAD_BINARY_LENGTH'],
  ['binary shape mismatch', 'binary', Buffer.alloc(24), 'shape=2,2', 400, 'SHAPE_MISMATCH'],
  ['binary shape that is not a list', 'binary', Buffer.alloc(8), 'shape=2,x', 400, 'BAD_SHAPE'],
  ['binary p out of range', 'binary', Buffer.alloc(8), 'p=2', 400, 'P_OUT_OF_RANGE'],
  ['binary bad seed', 'binary', Buffer.alloc(8), 'seed=-x', 400, 'BAD_SEED'],
  ['binary unknown parameter', 'binary', Buffer.alloc(8), 'sead=1', 400, 'INVALID_REQUEST'],
  ['binary unsupported dtype', 'binary', Buffer.alloc(8), 'dtype=int32', 415, 'UNSUPPORTED_DTYPE'],
  ['empty tensor with huge dims (not over the limit)', 'binary', Buffer.alloc(0), 'shape=100000,100000,0', 200, ''],
  ['claimed shape far over MAX_ELEMENTS', 'binary', Buffer.alloc(8), 'shape=1000000000,1000000000', 413, 'TOO_LARGE'],
  ['nested input over MAX_ELEMENTS', 'json', { input: Array(40).fill([1, 2, 3]) }, '', 413, 'TOO_LARGE'],
  ['binary body over MAX_ELEMENTS', 'binary', Buffer.alloc(4 * 101), '', 413, 'TOO_LARGE'],
  ['noise_shape of the wrong rank', 'json', { input: [[1, 2]], noise_shape: [1] }, '', 400, 'BAD_NOISE_SHAPE'],
  [
    'noise_shape dim that does not broadcast',
    'json',
    { input: [[1, 2]], noise_shape: [1, 3] },
    '',
    400,
    'BAD_NOISE_SHAPE',
  ],
  [
    'binary noise_shape that does not broadcast',
    'binary',
    Buffer.alloc(24),
    'shape=2,3&noise_shape=2,2',
    400,
    'BAD_NOISE_SHAPE',
  ],
  ['feature variant on rank 1', 'json', { input: [1, 2], variant: 'feature' }, '', 400, 'BAD_NOISE_SHAPE'],
  [
    'feature variant and noise_shape together',
    'json',
    { input: [[1, 2]], variant: 'feature', noise_shape: [1, 1] },
    '',
    400,
    'BAD_NOISE_SHAPE',
  ],
  [
    'gaussian with the torch stream',
    'json',
    { input: [1], variant: 'gaussian', rng: 'torch' },
    '',
    400,
    'UNSUPPORTED_COMBINATION',
  ],
  ['gaussian with p = 1', 'json', { input: [1], variant: 'gaussian', p: 1 }, '', 400, 'P_OUT_OF_RANGE'],
  [
    'float16 with the torch stream',
    'json',
    { input: [1], dtype: 'float16', rng: 'torch' },
    '',
    400,
    'UNSUPPORTED_COMBINATION',
  ],
  ['torch offset past its bound', 'json', { input: [1], rng: 'torch', offset: 2 ** 29 }, '', 400, 'BAD_OFFSET'],
  ['unknown variant', 'json', { input: [1], variant: 'spatial' }, '', 400, 'INVALID_REQUEST'],
  ['binary float16 of odd length', 'binary', Buffer.alloc(3), 'dtype=float16', 400, 'BAD_BINARY_LENGTH'],
  ['return_mask with a binary reply', 'json', { input: [1], return_mask: true }, 'accept', 406, 'NOT_ACCEPTABLE'],
];

// The same answers whether a JSON body is parsed on the main thread or, being large, by a pool worker.
const JSON_PATHS = {
  'main thread': { MAX_ELEMENTS: '100' },
  'worker pool': { MAX_ELEMENTS: '100', INLINE_MAX_JSON_BYTES: '0', INLINE_MAX_ELEMENTS: '0' },
};

for (const [path, env] of Object.entries(JSON_PATHS))
  t.test(`every bad input gets its 4xx, stable code and a problem document (JSON parsed on the ${path})`, async (t) => {
    const app = await startApp(t, env);
    for (const [name, send, body, query, status, code] of cases) {
      const res =
        send === 'json'
          ? await postJson(app, body, query === 'accept' ? { accept: 'application/octet-stream' } : {})
          : await postBinary(app, body as Buffer, query);
      t.equal(res.statusCode, status, `${name}: status`);
      if (status === 200) {
        t.equal(res.rawPayload.length, 0, `${name}: an empty tensor with a huge dim is fine`);
        continue;
      }
      t.match(res.headers['content-type'], /^application\/problem\+json/, `${name}: content type`);
      const problem = res.json();
      t.equal(problem.code, code, `${name}: code (${problem.detail})`);
      t.equal(problem.status, status);
      t.match(problem, { type: /^urn:dropout-service:problem:/, title: String, detail: String });
      t.notMatch(problem.detail, /at .*\.ts:\d+/, `${name}: no stack trace`);
    }
  });

t.test('media type, Accept, size and route errors', async (t) => {
  const app = await startApp(t, { MAX_BODY_BYTES: '2048' });
  const probe = async (name: string, options: InjectOptions, status: number, code: string): Promise<void> => {
    const res = await app.inject(options);
    t.equal(res.statusCode, status, name);
    t.match(res.headers['content-type'], /^application\/problem\+json/, `${name}: content type`);
    t.equal(res.json().code, code, `${name}: ${res.json().detail}`);
  };
  const url = '/v1/dropout';
  await probe(
    'text/plain body',
    { method: 'POST', url, headers: { 'content-type': 'text/plain' }, payload: '1,2' },
    415,
    'UNSUPPORTED_MEDIA_TYPE',
  );
  await probe('no body at all', { method: 'POST', url }, 415, 'UNSUPPORTED_MEDIA_TYPE');
  await probe(
    'unacceptable Accept',
    {
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', accept: 'text/html' },
      payload: '{"input":[1]}',
    },
    406,
    'NOT_ACCEPTABLE',
  );
  await probe(
    'JSON over MAX_BODY_BYTES',
    {
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ input: Array(1000).fill(1.5) }),
    },
    413,
    'TOO_LARGE',
  );
  await probe(
    'binary over MAX_BODY_BYTES',
    { method: 'POST', url, headers: { 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(4096) },
    413,
    'TOO_LARGE',
  );
  await probe('unknown route', { method: 'GET', url: '/v1/nothing' }, 404, 'NOT_FOUND');
});

t.test('a burst of bad requests does not disturb good ones', async (t) => {
  const app = await startApp(t, { INLINE_MAX_ELEMENTS: '0', CHUNK_ELEMENTS: '256', MAX_ELEMENTS: '100000' });
  const x = new Float32Array(genInput(4096));
  const expected = Buffer.from(referenceDropout(x, 0.5, 77n).out.buffer);
  const bad = cases.flatMap(([, send, body, query]) =>
    Array.from({ length: 4 }, () => (send === 'json' ? postJson(app, body) : postBinary(app, body as Buffer, query))),
  );
  const good = Array.from({ length: 8 }, () => postBinary(app, f32Bytes(x), 'p=0.5&seed=77'));
  const replies = await Promise.all([...bad, ...good]);
  for (const r of replies.slice(0, bad.length)) t.ok(r.statusCode < 500, 'no bad request causes a 5xx');
  for (const r of replies.slice(bad.length)) t.ok(r.rawPayload.equals(expected), 'good replies are exact');
  const after = await postBinary(app, f32Bytes(x), 'p=0.5&seed=77');
  t.ok(after.rawPayload.equals(expected), 'and the next good request is exact too');
});
