/** Overload, deadlines, worker faults, access control and hostile input. */
import t from 'tap';
import { f32Bytes, postBinary, postJson, startApp } from '../helpers.js';
import { genInput, referenceDropout } from '../reference.js';
import { FAULT_SEEDS, FAULTY_WORKER } from './faults.js';

/** A request whose noise takes a worker a noticeable time: the torch stream skipped 2^28 noise elements ahead. */
const SLOW_QUERY = `rng=torch&p=0.5&seed=1&offset=${2 ** 28}`;

t.test('a saturated queue answers 503 OVERLOADED with Retry-After, fast, and recovers', async (t) => {
  const app = await startApp(t, { MAX_QUEUE: '2', WORKERS: '1', INLINE_MAX_ELEMENTS: '0' });
  const x = f32Bytes(genInput(64));
  const replies = await Promise.all(Array.from({ length: 8 }, () => postBinary(app, x, SLOW_QUERY)));
  const statuses = replies.map((r) => r.statusCode).sort();
  t.same(statuses, [200, 200, 503, 503, 503, 503, 503, 503], 'two admitted, the rest shed');
  const shed = replies.find((r) => r.statusCode === 503);
  t.equal(shed?.headers['retry-after'], '1');
  t.match(shed?.json(), { code: 'OVERLOADED', detail: /MAX_QUEUE 2/ });
  const after = await postBinary(app, x, 'p=0.5&seed=3');
  t.equal(after.statusCode, 200, 'served again once the queue drains');
});

t.test(
  'a computation past REQUEST_TIMEOUT_MS gets 504, its queued work is dropped, and the pool still serves',
  async (t) => {
    const app = await startApp(t, { REQUEST_TIMEOUT_MS: '100', WORKERS: '1', INLINE_MAX_ELEMENTS: '0' });
    const x = new Float32Array(genInput(1000));
    const slow = await postBinary(app, f32Bytes(x), SLOW_QUERY);
    t.equal(slow.statusCode, 504);
    t.match(slow.json(), { code: 'DEADLINE_EXCEEDED', detail: /REQUEST_TIMEOUT_MS/ });
    // The aborted task's worker is replaced (a fresh thread, which takes longer than this tiny deadline to start
    // under the test loader): wait for the pool to answer again, then check the bytes.
    let good = await postBinary(app, f32Bytes(x), 'p=0.5&seed=5');
    for (let i = 0; i < 50 && good.statusCode === 504; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      good = await postBinary(app, f32Bytes(x), 'p=0.5&seed=5');
    }
    t.ok(good.rawPayload.equals(Buffer.from(referenceDropout(x, 0.5, 5n).out.buffer)), 'exact bytes after the abort');
  },
);

t.test(
  'a worker that throws or dies costs only its own request: 500 with the request id, nothing leaked',
  async (t) => {
    const env = { WORKERS: '2', INLINE_MAX_ELEMENTS: '0', CHUNK_ELEMENTS: '100000' };
    const app = await startApp(t, env, { workerFile: FAULTY_WORKER });
    const x = new Float32Array(genInput(2000));
    const expected = Buffer.from(referenceDropout(x, 0.5, 8n).out.buffer);
    for (const fault of ['throw', 'exit'] as const) {
      const query = `p=0.5&seed=${FAULT_SEEDS[fault]}`;
      const broken = await postBinary(app, f32Bytes(x), query, { 'x-request-id': `fault-${fault}` });
      t.equal(broken.statusCode, 500, fault);
      const problem = broken.json();
      t.match(problem, { code: 'INTERNAL', requestId: `fault-${fault}` });
      t.notMatch(broken.body, /injected|Error:|\bat\s|\.ts:/, 'no internals in the reply');
      const next = await Promise.all(Array.from({ length: 4 }, () => postBinary(app, f32Bytes(x), 'p=0.5&seed=8')));
      for (const r of next) t.ok(r.rawPayload.equals(expected), `after a ${fault}, the next requests are exact`);
    }
  },
);

t.test('API keys: probes and docs are open, everything else needs a valid bearer token', async (t) => {
  const app = await startApp(t, { API_KEYS: 'alpha-key,beta-key' });
  t.equal((await app.inject('/healthz')).statusCode, 200);
  t.equal((await app.inject('/readyz')).statusCode, 200);
  t.equal((await app.inject('/v2/health/ready')).statusCode, 200);
  t.equal((await app.inject('/openapi.json')).statusCode, 200);
  const none = await postJson(app, { input: [1, 2] });
  t.equal(none.statusCode, 401);
  t.equal(none.headers['www-authenticate'], 'Bearer realm="dropout-service"');
  t.match(none.json(), { code: 'UNAUTHORIZED', detail: /Authorization: Bearer/ });
  const wrong = await postJson(app, { input: [1, 2] }, { authorization: 'Bearer alpha-kex' });
  t.match(wrong.json(), { code: 'UNAUTHORIZED', detail: /not valid/ });
  t.equal((await postJson(app, { input: [1, 2] }, { authorization: 'Bearer beta-key' })).statusCode, 200);
  t.equal((await app.inject('/metrics')).statusCode, 401, 'metrics need a key too');
  const v2 = await app.inject({ method: 'POST', url: '/v2/models/dropout/infer', payload: '{}' });
  t.equal(v2.statusCode, 401);
  t.equal(v2.headers['content-type'], 'application/json');
  t.match(v2.json(), { error: /Bearer/ });
});

t.test('rate limit per key (else per address): 429 with the standard headers; probes are never limited', async (t) => {
  const app = await startApp(t, { API_KEYS: 'k1,k2', RATE_LIMIT_PER_MINUTE: '3' });
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++)
    statuses.push((await postJson(app, { input: [1] }, { authorization: 'Bearer k1' })).statusCode);
  t.same(statuses, [200, 200, 200, 429]);
  const limited = await postJson(app, { input: [1] }, { authorization: 'Bearer k1' });
  t.equal(limited.headers['x-ratelimit-limit'], '3');
  t.ok(limited.headers['retry-after'], 'Retry-After');
  t.match(limited.json(), { code: 'RATE_LIMITED' });
  t.equal(
    (await postJson(app, { input: [1] }, { authorization: 'Bearer k2' })).statusCode,
    200,
    'another key has its own budget',
  );
  for (let i = 0; i < 5; i++) t.equal((await app.inject('/healthz')).statusCode, 200);
});

t.test('CORS for the configured origin, and security headers on the documentation', async (t) => {
  const app = await startApp(t, { CORS_ORIGIN: 'https://notebook.example' });
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: '/v1/dropout',
    headers: { origin: 'https://notebook.example', 'access-control-request-method': 'POST' },
  });
  t.equal(preflight.headers['access-control-allow-origin'], 'https://notebook.example');
  const docs = await app.inject('/docs/');
  t.match(docs.headers['content-security-policy'], /default-src 'self'/);
  t.equal(docs.headers['x-content-type-options'], 'nosniff');
});

t.test('hostile input is refused before anything proportional to its claims is allocated', async (t) => {
  const app = await startApp(t);
  const claim = await postBinary(app, Buffer.alloc(8), 'shape=1000000000,1000000000');
  t.equal(claim.statusCode, 413);
  const deep = await postJson(app, `{"input":${'['.repeat(5000)}1${']'.repeat(5000)}}`);
  t.match(deep.json(), { code: 'BAD_SHAPE', detail: /deeper than 32/ });
  const long = await postJson(app, { input: [1, 'x'.repeat(1_000_000)] });
  t.equal(long.statusCode, 400);
  t.ok(long.body.length < 1000, 'the problem does not echo a megabyte back');
});
