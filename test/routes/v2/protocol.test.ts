/**
 * Points of the Open Inference Protocol that its clients check: reply parameters are strings, numbers or booleans;
 * settings arrive as numbers or as the strings of clients that keep parameters as text; an unknown model is named.
 */
import type { FastifyInstance } from 'fastify';
import t, { type Test } from 'tap';
import { startApp } from '../../helpers.js';
import { genInput, referenceDropout } from '../../reference.js';

const X = Array.from(new Float32Array(genInput(6)));

function infer(app: FastifyInstance, parameters: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return app.inject({
    method: 'POST',
    url: '/v2/models/dropout/infer',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({
      inputs: [{ name: 'input', shape: [2, 3], datatype: 'FP32', data: X }],
      parameters,
      ...extra,
    }),
  });
}

/** The JSON header of a reply, whether it came alone or before binary data. */
function replyHeader(res: { headers: Record<string, unknown>; rawPayload: Buffer }) {
  const length = Number(res.headers['inference-header-content-length'] ?? res.rawPayload.length);
  return JSON.parse(res.rawPayload.subarray(0, length).toString());
}

function onlyProtocolValues(t: Test, parameters: Record<string, unknown>, name: string) {
  for (const [key, value] of Object.entries(parameters)) {
    t.ok(['string', 'number', 'boolean'].includes(typeof value), `${name}: parameters.${key} is ${value}`);
  }
}

t.test('eval replies carry no seed key, inline and worker-written, JSON-only and binary', async (t) => {
  // A 1-byte JSON threshold sends every reply header through the worker's writer.
  const envs: Array<Record<string, string>> = [{}, { INLINE_MAX_JSON_BYTES: '1' }];
  for (const env of envs) {
    const app = await startApp(t, env);
    const where = Object.keys(env).length > 0 ? 'worker' : 'inline';
    for (const binary of [false, true]) {
      const res = await infer(app, { p: 0.5, mode: 'eval', binary_data_output: binary });
      t.equal(res.statusCode, 200, res.body);
      t.equal(
        res.headers['content-type'],
        binary ? 'application/octet-stream' : 'application/json',
        `${where}, binary ${binary}`,
      );
      const { parameters } = replyHeader(res);
      t.notOk('seed' in parameters, `${where}, binary ${binary}: ${JSON.stringify(parameters)}`);
      t.same(parameters, { offset: 0, kept: 6 });
      onlyProtocolValues(t, parameters, `${where}, binary ${binary}`);
    }
    const train = replyHeader(await infer(app, { p: 0.5, seed: 7 }));
    t.equal(train.parameters.seed, '7', `${where}: a train reply still reports its seed`);
    onlyProtocolValues(t, train.parameters, `${where}, train`);
  }
});

t.test('p and offset as numeric strings mean their numbers; bad ones are refused as bad numbers are', async (t) => {
  const app = await startApp(t);
  const asNumber = await infer(app, { p: 0.5, seed: 42, offset: 12 });
  t.equal(asNumber.statusCode, 200);
  for (const parameters of [
    { p: '0.5', seed: 42, offset: 12 },
    { p: '0.5', seed: '42', offset: '12' },
    { p: ' 5e-1 ', seed: 42, offset: 12 },
  ]) {
    const res = await infer(app, parameters);
    t.equal(res.statusCode, 200, `${JSON.stringify(parameters)}: ${res.body}`);
    t.same(res.json(), asNumber.json(), JSON.stringify(parameters));
  }
  const ref = referenceDropout(new Float32Array(X), 0.25, 42n);
  const quarter = (await infer(app, { p: '0.25', seed: 42 })).json();
  t.same(quarter.outputs[0].data.map(Math.fround), Array.from(ref.out), 'p "0.25" drops as p 0.25');
  t.equal((await infer(app, { p: '1', seed: 1 })).statusCode, 200);
  t.equal((await infer(app, { p: '0', seed: 1 })).statusCode, 200);

  for (const [bad, same] of [
    ['1.5', 1.5],
    ['-0.1', -0.1],
    ['abc', 'abc'],
    ['', ''],
    ['0x1', '0x1'],
    ['NaN', 'NaN'],
    ['Infinity', 'Infinity'],
  ] as const) {
    const res = await infer(app, { p: bad, seed: 1 });
    t.equal(res.statusCode, 400, `p ${JSON.stringify(bad)}`);
    t.match(res.json(), { error: /\bp\b/ }, `p ${JSON.stringify(bad)}: ${res.body}`);
    t.same(res.json(), (await infer(app, { p: same, seed: 1 })).json(), `p ${JSON.stringify(bad)} as ${same}`);
  }
  t.same((await infer(app, { p: '1.5', seed: 1 })).json(), (await infer(app, { p: 1.5, seed: 1 })).json());
  t.match((await infer(app, { p: '1.5', seed: 1 })).json(), { error: /parameters\/p must be <= 1/ });
  t.match((await infer(app, { p: '0.5', mode: 'train', variant: 'gaussian', seed: 1 })).statusCode, 200);
  t.match((await infer(app, { p: '1', variant: 'gaussian', seed: 1 })).json(), { error: /p < 1/ });

  for (const bad of ['-1', '1.5', 'abc', '']) {
    const res = await infer(app, { p: 0.5, seed: 1, offset: bad });
    t.equal(res.statusCode, 400, `offset ${JSON.stringify(bad)}`);
    t.match(res.json(), { error: /offset/ }, `offset ${JSON.stringify(bad)}: ${res.body}`);
  }
  t.equal((await infer(app, { p: 0.5, seed: 1, offset: -1 })).statusCode, 400);
});

t.test('what tritonclient sends: Python ints, floats, strings and booleans as JSON values', async (t) => {
  const app = await startApp(t);
  const expected = (await infer(app, { p: 0.5, seed: 42, offset: 3 })).json();
  for (const raw of [
    '{"p":0.5,"seed":42,"offset":3}',
    '{"p":5e-1,"seed":42.0,"offset":3.0}',
    '{"p":"0.5","seed":"42","offset":"3","mode":"train","binary_data_output":false}',
  ]) {
    const res = await app.inject({
      method: 'POST',
      url: '/v2/models/dropout/infer',
      payload: `{"inputs":[{"name":"input","shape":[2,3],"datatype":"FP32","data":${JSON.stringify(X)}}],"parameters":${raw}}`,
    });
    t.equal(res.statusCode, 200, `${raw}: ${res.body}`);
    t.same(res.json(), expected, raw);
  }
});

t.test('a large request with p as a string is read by a worker as the main thread reads a small one', async (t) => {
  const app = await startApp(t, { INLINE_MAX_JSON_BYTES: '16' });
  const ok = await infer(app, { p: '0.25', seed: 42 });
  t.equal(ok.statusCode, 200, ok.body);
  const ref = referenceDropout(new Float32Array(X), 0.25, 42n);
  t.same(ok.json().outputs[0].data.map(Math.fround), Array.from(ref.out));
  const bad = await infer(app, { p: '1.5', seed: 42 });
  t.equal(bad.statusCode, 400);
  t.match(bad.json(), { error: /parameters\/p must be <= 1/ });
});

t.test('an unknown model is named as not found on every /v2/models/{name} route', async (t) => {
  const app = await startApp(t);
  const routes: Array<['GET' | 'POST', string]> = [
    ['GET', '/v2/models/nope'],
    ['GET', '/v2/models/nope/ready'],
    ['POST', '/v2/models/nope/infer'],
    ['GET', '/v2/models/nope/versions/1'],
    ['GET', '/v2/models/nope/versions/1/ready'],
    ['POST', '/v2/models/nope/versions/1/infer'],
    ['GET', '/v2/models/nope/?x=1'],
  ];
  for (const [method, url] of routes) {
    const res = await app.inject({
      method,
      url,
      headers: { 'content-type': 'application/json' },
      ...(method === 'POST' ? { payload: '{"inputs":[]}' } : {}),
    });
    t.equal(res.statusCode, 404, `${method} ${url}`);
    t.equal(res.headers['content-type'], 'application/json', `${method} ${url}`);
    t.same(res.json(), { error: "Request for unknown model: 'nope' is not found" }, `${method} ${url}`);
  }
  const escaped = await app.inject('/v2/models/no%20such%2Fmodel/ready');
  t.same(escaped.json(), { error: "Request for unknown model: 'no such/model' is not found" });

  const long = 'm'.repeat(5000);
  const res = await app.inject(`/v2/models/${long}/ready`);
  t.equal(res.statusCode, 404);
  t.ok(res.body.length < 300, `a long name is cut: ${res.body.length} bytes`);
  t.match(res.json(), { error: /^Request for unknown model: 'm+… \(5000 characters\)' is not found$/ });

  t.match((await app.inject('/v2/models/dropout/versions/7')).json(), {
    error: 'model dropout has no version 7; its version is 1',
  });
  t.match((await app.inject('/v2/models/dropout/nothing')).json(), { error: /^no route GET/ });
  t.match((await app.inject('/v2/elsewhere')).json(), { error: /^no route GET \/v2\/elsewhere/ });
});

t.test('a /v2 path asked with another method is 405 with Allow, in the protocol error format', async (t) => {
  const app = await startApp(t);
  const res = await app.inject({ method: 'GET', url: '/v2/models/dropout/infer' });
  t.equal(res.statusCode, 405);
  t.equal(res.headers.allow, 'POST');
  t.equal(res.headers['content-type'], 'application/json');
  t.match(res.json(), { error: /takes POST, not GET/ });
  const ready = await app.inject({ method: 'POST', url: '/v2/health/ready' });
  t.equal(ready.statusCode, 405);
  t.match(ready.headers.allow, /GET/);
});

t.test('a path the router cannot read is a 400 in each protocol’s own error format', async (t) => {
  const app = await startApp(t);
  const v2 = await app.inject({ method: 'GET', url: '/v2/models/%zz/ready' });
  t.equal(v2.statusCode, 400);
  t.equal(v2.headers['content-type'], 'application/json');
  t.same(v2.json(), { error: 'the path /v2/models/%zz/ready is not a valid URL' });
  const long = await app.inject({ method: 'GET', url: `/v2/models/dropout/versions/${'x'.repeat(120)}/ready` });
  t.equal(long.statusCode, 400);
  t.match(long.json(), { error: /has a segment over 100 characters$/ });
  const v1 = await app.inject({ method: 'POST', url: '/v1/dropo%zzut' });
  t.equal(v1.statusCode, 400);
  t.match(v1.headers['content-type'], /^application\/problem\+json/);
  t.match(v1.json(), { code: 'INVALID_REQUEST', detail: 'the path /v1/dropo%zzut is not a valid URL' });
});
