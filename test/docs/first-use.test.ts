/** What a new user hits first: a body without the right Content-Type, a wrong method, the docs, 0-d tensors. */
import { Ajv } from 'ajv';
import t from 'tap';
import { PROBLEMS } from '../../src/errors.js';
import { PROBLEM_EXAMPLES } from '../../src/routes/v1/dropout-docs.js';
import { DROPOUT_REPLY_EXAMPLE, DROPOUT_REQUEST_EXAMPLE, DropoutJsonReply } from '../../src/schemas/dropout.js';
import { postJson, startApp } from '../helpers.js';

const ACCEPTED = 'application/json, application/octet-stream, application/x-npy';

t.test('every unsupported Content-Type gets the problem that names the accepted types', async (t) => {
  const app = await startApp(t);
  const cases: [string, Record<string, string>, string][] = [
    // What `curl -d '{"input":[1]}' URL` sends.
    ['form (curl -d)', { 'content-type': 'application/x-www-form-urlencoded' }, 'application/x-www-form-urlencoded'],
    ['text', { 'content-type': 'text/plain; charset=utf-8' }, 'text/plain; charset=utf-8'],
    ['multipart', { 'content-type': 'multipart/form-data; boundary=x' }, 'multipart/form-data; boundary=x'],
    ['xml', { 'content-type': 'application/xml' }, 'application/xml'],
    ['none, with a body', {}, 'no Content-Type'],
  ];
  for (const [name, headers, got] of cases) {
    const res = await app.inject({ method: 'POST', url: '/v1/dropout', headers, payload: '{"input":[1,2,3]}' });
    t.equal(res.statusCode, 415, name);
    t.match(res.headers['content-type'], /^application\/problem\+json/, `${name}: content type`);
    const problem = res.json();
    t.equal(problem.code, 'UNSUPPORTED_MEDIA_TYPE', name);
    t.equal(problem.detail, `send the tensor as ${ACCEPTED} (got ${got})`, name);
  }
});

t.test('a form body over a real connection: 415, and the connection serves the next request', async (t) => {
  const app = await startApp(t);
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const form = await fetch(`${base}/v1/dropout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: JSON.stringify({ input: Array.from({ length: 50_000 }, (_, i) => i) }),
  });
  t.equal(form.status, 415);
  t.match(((await form.json()) as { detail: string }).detail, /^send the tensor as /);
  const ok = await fetch(`${base}/v1/dropout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input: [1, 2], p: 0, seed: 1 }),
  });
  t.equal(ok.status, 200);
});

t.test('a known path with the wrong method: 405 with Allow, as a problem document', async (t) => {
  const app = await startApp(t);
  const cases: [string, string, string][] = [
    ['GET', '/v1/dropout', 'POST'],
    ['PUT', '/v1/dropout?p=0.5', 'POST'],
    ['POST', '/healthz', 'GET, HEAD'],
    ['DELETE', '/readyz', 'GET, HEAD'],
    ['POST', '/openapi.json', 'GET, HEAD'],
    ['POST', '/metrics', 'GET, HEAD'],
  ];
  for (const [method, url, allow] of cases) {
    const res = await app.inject({ method: method as 'GET', url });
    const name = `${method} ${url}`;
    t.equal(res.statusCode, 405, name);
    t.equal(res.headers.allow, allow, `${name}: Allow`);
    t.match(res.headers['content-type'], /^application\/problem\+json/, `${name}: content type`);
    const problem = res.json();
    t.match(problem, { status: 405, code: 'METHOD_NOT_ALLOWED', title: 'The route does not take this method' }, name);
    t.match(problem.detail, `takes ${allow}, not ${method}`, name);
  }
  const head = await app.inject({ method: 'HEAD', url: '/v1/dropout' });
  t.equal(head.statusCode, 405, 'HEAD /v1/dropout');
  t.equal(head.headers.allow, 'POST');
});

t.test('an unknown path is still 404, and /v2 keeps its own error format', async (t) => {
  const app = await startApp(t);
  const unknown = await app.inject({ method: 'GET', url: '/v1/dropouts' });
  t.equal(unknown.statusCode, 404);
  t.equal(unknown.headers.allow, undefined);
  t.equal(unknown.json().code, 'NOT_FOUND');
  const v2 = await app.inject({ method: 'GET', url: '/v2/nothing' });
  t.equal(v2.statusCode, 404);
  t.type(v2.json().error, 'string');
});

/** A 0-d float32 .npy file (np.save(f, np.float32(value))). */
function scalarNpy(value: number): Buffer {
  let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (), }";
  header += `${' '.repeat(63 - ((10 + header.length) % 64))}\n`;
  const preamble = Buffer.alloc(10);
  Buffer.from('\x93NUMPY', 'latin1').copy(preamble);
  preamble[6] = 1;
  preamble.writeUInt16LE(header.length, 8);
  const data = Buffer.alloc(4);
  data.writeFloatLE(value);
  return Buffer.concat([preamble, Buffer.from(header, 'latin1'), data]);
}

t.test('a 0-d tensor comes back as a bare number, its mask as a bare boolean', async (t) => {
  const app = await startApp(t);
  const post = (body: unknown) =>
    app.inject({
      method: 'POST',
      url: '/v1/dropout',
      headers: { 'content-type': 'application/json' },
      payload: body as object,
    });
  const seen = new Set<number>();
  for (let seed = 1; seed <= 8; seed++) {
    const res = await post({ input: [3.5], shape: [], p: 0.5, seed, return_mask: true });
    t.equal(res.statusCode, 200);
    const reply = res.json();
    t.same(reply.shape, []);
    t.type(reply.output, 'number', `seed ${seed}: output ${res.body}`);
    t.type(reply.mask, 'boolean', `seed ${seed}: mask`);
    t.equal(reply.output, reply.mask ? 7 : 0, `seed ${seed}: output follows the mask`);
    t.equal(reply.kept, reply.mask ? 1 : 0);
    seen.add(reply.output);
  }
  t.same([...seen].sort(), [0, 7], 'some seed keeps and some drops');
  const documented = new Ajv({ strict: false }).compile(DropoutJsonReply);
  t.ok(
    documented((await post({ input: [3.5], shape: [], p: 0.5, seed: 1, return_mask: true })).json()),
    'as documented',
  );
  t.equal((await post({ input: [3.5], shape: [], mode: 'eval' })).json().output, 3.5, 'eval mode');
  const npy = await app.inject({
    method: 'POST',
    url: '/v1/dropout?mode=eval',
    headers: { 'content-type': 'application/x-npy', accept: 'application/json' },
    payload: scalarNpy(-1.25),
  });
  t.equal(npy.statusCode, 200, npy.body);
  t.match(npy.body, /^\{"output":-1\.25,"shape":\[\],/, '.npy 0-d to JSON');
  const offloaded = await startApp(t, { INLINE_MAX_JSON_BYTES: '0', INLINE_MAX_ELEMENTS: '0' });
  const worker = await offloaded.inject({
    method: 'POST',
    url: '/v1/dropout',
    headers: { 'content-type': 'application/json' },
    payload: { input: [3.5], shape: [], mode: 'eval', return_mask: true },
  });
  t.match(worker.body, /^\{"output":3\.5,"shape":\[\],.*"mask":true\}$/, 'written by a pool worker');
  // One element of rank 1 keeps its brackets.
  t.same((await post({ input: [3.5], mode: 'eval' })).json().output, [3.5]);
});

const STATUSES = ['400', '401', '406', '408', '413', '415', '429', '500', '503', '504'];

t.test('the docs: padlocks and Authorize only when API keys are configured', async (t) => {
  for (const keys of ['', 'k1,k2']) {
    const app = await startApp(t, { API_KEYS: keys });
    const doc = (await app.inject('/openapi.json')).json();
    const name = keys ? 'with keys' : 'without keys';
    t.equal(doc.security !== undefined, keys !== '', `${name}: security requirement`);
    t.equal(doc.components?.securitySchemes !== undefined, keys !== '', `${name}: security scheme`);
    const operations = Object.values<Record<string, { security?: unknown[] }>>(doc.paths).flatMap(Object.values);
    if (!keys)
      t.notOk(
        operations.some((op) => (op.security ?? []).length > 0),
        `${name}: no operation needs a key`,
      );
  }
});

t.test('the docs: the examples are real replies', async (t) => {
  const app = await startApp(t);
  const keyed = await startApp(t, { API_KEYS: 'k' });
  const doc = (await app.inject('/openapi.json')).json();
  const post = doc.paths['/v1/dropout'].post;
  const request = post.requestBody.content['application/json'].example;
  t.same(request, DROPOUT_REQUEST_EXAMPLE, 'the request example is the README one');
  const real = await postJson(app, request);
  t.equal(real.statusCode, 200);
  t.same(post.responses['200'].content['application/json'].example, real.json(), '200 example is the real reply');
  t.same(DROPOUT_REPLY_EXAMPLE, real.json());

  const documented = (status: string) => post.responses[status].content['application/problem+json'].example;
  const provoked: [string, Promise<{ json(): unknown }>][] = [
    ['400', postJson(app, { ...request, p: 1.5 })],
    ['401', postJson(keyed, request)],
    ['406', postJson(app, request, { accept: 'text/html' })],
    ['413', postJson(app, { input: [], shape: [100000, 100000] })],
    ['415', postJson(app, 'input=1', { 'content-type': 'application/x-www-form-urlencoded' })],
  ];
  for (const [status, reply] of provoked) t.same(documented(status), (await reply).json(), `${status} example`);
  for (const status of STATUSES) {
    const example = documented(status);
    t.equal(example.status, Number(status), `${status}: example status`);
    t.same(example, PROBLEM_EXAMPLES[Number(status) as keyof typeof PROBLEM_EXAMPLES]);
    t.equal(PROBLEMS[example.code as keyof typeof PROBLEMS].status, Number(status), `${status}: code of that status`);
  }
});

t.test('the docs: every status the route answers, Retry-After on 429 and 503', async (t) => {
  const app = await startApp(t);
  const post = (await app.inject('/openapi.json')).json().paths['/v1/dropout'].post;
  for (const status of STATUSES) t.ok(post.responses[status], `documents ${status}`);
  for (const status of ['429', '503']) t.ok(post.responses[status].headers?.['Retry-After'], `${status}: Retry-After`);
});

t.test('the docs: which settings belong to which body format', async (t) => {
  const app = await startApp(t);
  const post = (await app.inject('/openapi.json')).json().paths['/v1/dropout'].post;
  t.ok(post.parameters.length > 0);
  for (const param of post.parameters) {
    t.match(param.description ?? param.schema.description, /^Binary and \.npy bodies only: /, param.name);
    t.equal(param.schema.default, undefined, `${param.name}: no default prefilled`);
    t.equal(param.schema.examples, undefined, `${param.name}: no example prefilled`);
    t.equal(param.example, undefined, `${param.name}: no example prefilled`);
  }
  t.match(post.requestBody.content['application/json'].schema.description, /settings as fields.*query.*not read/);
});
