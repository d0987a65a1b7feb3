/**
 * Hostile input: details quote a bounded prefix of a client's value, never the value; and rate limits
 * count by address everything that is not a valid API key, failed authentications included.
 */
import t, { type Test } from 'tap';
import { clip, quote } from '../../src/errors.js';
import { f32Bytes, postBinary, postJson, startApp } from '../helpers.js';

const MB2 = 2 * 1024 * 1024;
const digits = (n: number) => '1'.repeat(n);
/** Everything a client gets back for one rejected value is well under a kilobyte, whatever the value's size. */
const SMALL_REPLY = 1024;

const V2_INPUT = { name: 'input', shape: [3], datatype: 'FP32', data: [1, 2, 3] };

/** A version 2.0 .npy file with this header text and these bytes of data. */
function npyWith(header: string, data: Uint8Array = new Uint8Array(0)): Buffer {
  const text = `${header}\n`;
  const prefix = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0, 0, 0, 0, 0]);
  prefix.writeUInt32LE(text.length, 8);
  return Buffer.concat([prefix, Buffer.from(text, 'latin1'), data]);
}

t.test(
  'quote and clip: short values as before, long ones cut with their length, in time independent of size',
  async (t) => {
    t.equal(quote('abc'), '"abc"');
    t.equal(quote([2, 3]), '[2,3]', 'number arrays as a template literal writes them');
    t.equal(quote({ a: [1, 2, 3] }), '{"a":[1,2,3]}');
    t.equal(quote(Number.POSITIVE_INFINITY), 'Infinity');
    t.equal(clip('text/plain'), 'text/plain');
    const long = quote(digits(MB2));
    t.match(long, /^"1{64}…" \(2097152 characters\)$/);
    t.match(quote(new Array(1e6).fill(7)), /^\[7(,7)*,…\] \(1000000 items\)$/);
    t.match(clip('x'.repeat(MB2)), /^x{64}… \(2097152 characters\)$/);
    t.ok(quote(JSON.parse(`${'['.repeat(5000)}${']'.repeat(5000)}`)).length < 200, 'deep nesting is cut too');
  },
);

/** The reply is small, and its message (a problem's detail, a V2 error) names `field`. */
function checkSmall(
  t: Test,
  res: { statusCode: number; body: string },
  field: RegExp,
  name: string,
  status = 400,
): void {
  const small = res.body.length < SMALL_REPLY;
  t.equal(res.statusCode, status, `${name}: status`);
  t.ok(small, `${name}: ${res.body.length} bytes`);
  // Read only when small: a failing match on megabytes would print them.
  const message = small ? String(JSON.parse(res.body).detail ?? JSON.parse(res.body).error) : '';
  t.ok(field.test(message), `${name}: names the field (${message || res.body.slice(0, 300)})`);
}

for (const [path, env] of Object.entries({
  'main thread': { INLINE_MAX_JSON_BYTES: String(16 * MB2) },
  'worker pool': { INLINE_MAX_JSON_BYTES: '1024' },
}))
  t.test(`v1 JSON parsed on the ${path}: a 2 MB value in any field gets a short 400 naming it`, async (t) => {
    const app = await startApp(t, env);
    for (const [name, body, field] of [
      ['seed string', { input: [1, 2, 3], seed: digits(2 * MB2) }, /seed "1{64}…" \(4194304 characters\)/],
      ['seed of letters', { input: [1, 2, 3], seed: 'x'.repeat(MB2) }, /seed "x+…"/],
      ['offset string', { input: [1, 2, 3], offset: digits(MB2) }, /offset "1+…"/],
      ['non-numeric value', { input: [1, 'x'.repeat(MB2), 3] }, /input\[1\] is "x+…"/],
      ['unknown field', { input: [1], ['k'.repeat(MB2)]: 1 }, /unknown field "k+…"/],
      ['noise_shape', { input: [[1, 2, 3]], noise_shape: new Array(100_000).fill(1) }, /noise_shape \[1,1.*…\]/],
    ] as const) {
      const res = await postJson(app, body);
      checkSmall(t, res, field, name);
      t.equal(typeof res.json().detail, 'string', `${name}: a problem document`);
    }
    const deep = await postJson(app, `{"input":[1],"${'d'.repeat(MB2)}":[[[[[[1]]]]]]}`);
    checkSmall(t, deep, /d{64}…"? \(2097152 characters\)/, 'deep value under a long key');
  });

t.test('binary and .npy query parameters: a 2 MB value gets a short 400 naming the parameter', async (t) => {
  const app = await startApp(t);
  const x = f32Bytes([1, 2, 3, 4, 5, 6]);
  for (const [name, query, field] of [
    ['seed', `seed=${digits(MB2)}`, /seed "1{64}…" \(2097152 characters\)/],
    ['offset', `offset=${digits(MB2)}`, /offset "1+…"/],
    ['shape of letters', `shape=${'x'.repeat(MB2)}`, /shape "x+…"/],
    ['shape of dims', `shape=${'1,'.repeat(MB2 / 2)}1`, /shape "1,1,.*…"/],
    ['noise_shape', `shape=2,3&noise_shape=${'1,'.repeat(MB2 / 2)}1`, /shape "1,1,.*…"/],
    ['unknown parameter', `${'q'.repeat(MB2)}=1`, /unknown field "q+…"/],
  ] as const) {
    checkSmall(t, await postBinary(app, x, query), field, name);
  }
  const dtype = await postBinary(app, x, `dtype=${'f'.repeat(MB2)}`);
  checkSmall(t, dtype, /dtype/, 'dtype', 415);
  const npy = await app.inject({
    method: 'POST',
    url: `/v1/dropout?seed=${digits(MB2)}`,
    headers: { 'content-type': 'application/x-npy' },
    payload: npyWith("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", f32Bytes([1])),
  });
  checkSmall(t, npy, /seed "1+…"/, 'seed with a .npy body');
});

t.test('a .npy header quotes at most a prefix of what it contains', async (t) => {
  const app = await startApp(t);
  for (const [name, header, field] of [
    ['descr', `{'descr': '${'f'.repeat(5000)}', 'fortran_order': False, 'shape': (1,)}`, /descr/],
    ['shape', `{'descr': '<f4', 'fortran_order': False, 'shape': (${'1, '.repeat(2000)}1)}`, /rank 2001/],
    [
      'shape of Nones',
      `{'descr': '<f4', 'fortran_order': False, 'shape': (${'None, '.repeat(1000)})}`,
      /shape \(None, .*…/,
    ],
    ['key', `{'${'k'.repeat(5000)}': 1}`, /key/],
    ['long header', `{'descr': '<f4', 'fortran_order': False, 'shape': (${'9'.repeat(200_000)},)}`, /header/],
  ] as const) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/dropout',
      headers: { 'content-type': 'application/x-npy' },
      payload: npyWith(header),
    });
    checkSmall(t, res, field, name);
  }
});

t.test('Open Inference Protocol: a 2 MB id, parameter, name or datatype gets a short 400 naming it', async (t) => {
  const app = await startApp(t);
  const infer = (body: unknown, headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url: '/v2/models/dropout/infer',
      headers: { 'content-type': 'application/json', ...headers },
      payload: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const ok = await infer({ id: 'request-7', inputs: [V2_INPUT] });
  t.equal(ok.statusCode, 200);
  t.equal(ok.json().id, 'request-7', 'a normal id is echoed');
  for (const [name, body, field] of [
    ['id', { id: 'i'.repeat(MB2), inputs: [V2_INPUT] }, /\bid\b/],
    ['seed parameter', { parameters: { seed: digits(MB2) }, inputs: [V2_INPUT] }, /seed "1+…"/],
    ['offset parameter', { parameters: { offset: digits(MB2) }, inputs: [V2_INPUT] }, /offset "1+…"/],
    ['noise_shape parameter', { parameters: { noise_shape: 'n'.repeat(MB2) }, inputs: [V2_INPUT] }, /shape "n+…"/],
    ['variant parameter', { parameters: { variant: 'v'.repeat(MB2) }, inputs: [V2_INPUT] }, /variant/],
    ['parameter name', { parameters: { ['p'.repeat(MB2)]: {} }, inputs: [V2_INPUT] }, /parameters\/p+…/],
    ['input name', { inputs: [{ ...V2_INPUT, name: 'n'.repeat(MB2) }] }, /input.*"n+…"/],
    ['many inputs', { inputs: new Array(1000).fill({ ...V2_INPUT, name: 'x' }) }, /"input".*1000 inputs/],
    ['datatype', { inputs: [{ ...V2_INPUT, datatype: 'F'.repeat(MB2) }] }, /datatype F+…/],
    ['output name', { inputs: [V2_INPUT], outputs: [{ name: 'o'.repeat(MB2) }] }, /output "o+…"/],
    [
      'binary_data_size',
      { inputs: [{ ...V2_INPUT, data: undefined, parameters: { binary_data_size: 's'.repeat(MB2) } }] },
      /binary_data_size is "s+…"/,
    ],
  ] as const) {
    checkSmall(t, await infer(body), field, name);
  }
  checkSmall(
    t,
    await infer('{}', { 'inference-header-content-length': '9'.repeat(MB2) }),
    /Inference-Header-Content-Length is 9+…/,
    'Inference-Header-Content-Length',
  );
  checkSmall(
    t,
    await infer('{}', { 'content-type': `text/${'c'.repeat(MB2)}` }),
    /Content-Type text\/c+…/,
    'Content-Type',
  );
  const version = await app.inject(`/v2/models/dropout/versions/${'9'.repeat(MB2)}`);
  checkSmall(t, version, /versions\/9+…/, 'version', 400);
});

t.test('routes, Content-Type and Content-Length are quoted short', async (t) => {
  const app = await startApp(t);
  checkSmall(t, await app.inject(`/${'r'.repeat(MB2)}`), /no route GET \/r+…/, '404', 404);
  checkSmall(t, await app.inject(`/v2/${'r'.repeat(MB2)}`), /no route GET \/v2\/r+…/, 'v2 404', 404);
  const media = await app.inject({
    method: 'POST',
    url: '/v1/dropout',
    headers: { 'content-type': `application/${'m'.repeat(MB2)}` },
    payload: 'x',
  });
  checkSmall(
    t,
    media,
    /send the tensor as .*\(got application\/m{52}… \(2097164 characters\)\)$/,
    'unsupported media type',
    415,
  );
  const length = await app.inject({
    method: 'POST',
    url: '/v1/dropout',
    headers: { 'content-type': 'application/octet-stream', 'content-length': 'l'.repeat(MB2) },
    payload: f32Bytes([1]),
  });
  checkSmall(t, length, /Content-Length "l{64}…" \(2097152 characters\) is not a byte count/, 'Content-Length');
});

t.test('normal bad values are worded as before', async (t) => {
  const app = await startApp(t);
  const detail = async (body: unknown) => (await postJson(app, body)).json().detail;
  t.equal(
    await detail({ input: [1, 2, 3], seed: 'abc' }),
    'seed "abc" must be a decimal integer string, e.g. "42" or "18446744073709551615"',
  );
  t.equal(await detail({ input: [1, 2, 3], offset: 'x' }), 'offset "x" must be a non-negative integer');
  t.equal(await detail({ input: [1, 2, 3], foo: 1 }), 'body has an unknown field "foo"');
  t.equal(
    await detail({ input: [[1, 2, 3]], noise_shape: [1] }),
    "noise_shape [1] has rank 1 but the input's shape [1,3] has rank 2",
  );
  t.equal(await detail({ input: [1, 2, 3], shape: [2, 2] }), 'shape [2,2] needs 4 values but input has 3');
  const binary = await postBinary(app, f32Bytes([1]), 'shape=a,b');
  t.equal(binary.json().detail, 'shape "a,b" must be comma-separated non-negative integers, e.g. 2,3,4');
  const v2 = await app.inject({
    method: 'POST',
    url: '/v2/models/dropout/infer',
    headers: { 'content-type': 'text/plain' },
    payload: '{}',
  });
  t.same(v2.json(), {
    error: 'Content-Type text/plain is not accepted; send application/json, application/octet-stream or none',
  });
});

t.test('with API keys, failed authentications count against the address: 401 until the limit, then 429', async (t) => {
  const app = await startApp(t, { API_KEYS: 'k', RATE_LIMIT_PER_MINUTE: '3' });
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) {
    statuses.push((await postJson(app, { input: [1] }, { authorization: `Bearer guess-${i}` })).statusCode);
  }
  t.same(statuses, [401, 401, 401, 429, 429]);
  const none = await postJson(app, { input: [1] });
  t.equal(none.statusCode, 429, 'no key at all counts against the address too');
  t.match(none.json(), { code: 'RATE_LIMITED' });
  const v2 = await app.inject({ method: 'POST', url: '/v2/models/dropout/infer', payload: '{}' });
  t.equal(v2.statusCode, 429, 'on every route');

  const valid: number[] = [];
  for (let i = 0; i < 4; i++)
    valid.push((await postJson(app, { input: [1] }, { authorization: 'Bearer k' })).statusCode);
  t.same(valid, [200, 200, 200, 429], 'the valid key has its own budget');

  for (let i = 0; i < 5; i++) {
    t.equal((await app.inject('/healthz')).statusCode, 200, 'probes stay open and unlimited');
    t.equal((await app.inject('/v2/health/ready')).statusCode, 200);
  }
});

t.test('with API keys, a wrong key is still answered 401 with WWW-Authenticate under the limit', async (t) => {
  const app = await startApp(t, { API_KEYS: 'k', RATE_LIMIT_PER_MINUTE: '10' });
  const wrong = await postJson(app, { input: [1] }, { authorization: 'Bearer nope' });
  t.equal(wrong.statusCode, 401);
  t.equal(wrong.headers['www-authenticate'], 'Bearer realm="dropout-service"');
  t.equal(wrong.headers['x-ratelimit-remaining'], '9', 'and counted');
  t.equal((await app.inject('/metrics')).statusCode, 401);
});

t.test('without API keys, a different bearer token per request does not escape the per-address limit', async (t) => {
  const app = await startApp(t, { RATE_LIMIT_PER_MINUTE: '3' });
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) {
    statuses.push((await postJson(app, { input: [1] }, { authorization: `Bearer token-${i}` })).statusCode);
  }
  t.same(statuses, [200, 200, 200, 429, 429]);
  const other = await postJson(app, { input: [1] }, { 'x-forwarded-for': '203.0.113.9' });
  t.equal(other.statusCode, 429, 'X-Forwarded-For is not trusted');
  for (let i = 0; i < 5; i++) t.equal((await app.inject('/readyz')).statusCode, 200);
});
