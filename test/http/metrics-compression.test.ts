import { deflateSync, gunzipSync, gzipSync } from 'node:zlib';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import t from 'tap';
import { f32Bytes, postBinary, postJson, startApp } from '../helpers.js';
import { genInput, referenceDropout } from '../reference.js';

t.test('/metrics is Prometheus text that a parser reads, and its counters follow the traffic', async (t) => {
  const app = await startApp(t);
  const scrape = async () => {
    const res = await app.inject('/metrics');
    t.match(res.headers['content-type'], /^text\/plain; version=0.0.4/);
    return new Map(parsePrometheusTextFormat(res.body).map((f) => [f.name, f]));
  };
  const before = await scrape();
  for (const name of [
    'http_requests_total',
    'http_request_duration_seconds',
    'dropout_elements_total',
    'dropout_pool_queue_depth',
    'dropout_pool_utilization',
    'nodejs_eventloop_lag_seconds',
    'process_resident_memory_bytes',
  ]) {
    t.ok(before.has(name), `exports ${name}`);
  }
  await postJson(app, { input: [1, 2, 3], seed: 1 });
  await postJson(app, { input: [1, 2, 3], seed: 1 });
  await postBinary(app, f32Bytes([1, 2, 3, 4]), 'dtype=float32&seed=2&variant=alpha');
  await postJson(app, { input: [[1], [2, 3]] });
  const after = await scrape();
  const count = (labels: Record<string, string>) =>
    Number(
      after
        .get('http_requests_total')
        ?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value ?? 0,
    );
  t.equal(count({ route: '/v1/dropout', format: 'json', status: '200' }), 2);
  t.equal(count({ route: '/v1/dropout', format: 'binary', status: '200' }), 1);
  t.equal(count({ route: '/v1/dropout', status: '400' }), 1);
  const elements = after.get('dropout_elements_total')?.metrics ?? [];
  t.equal(Number(elements.find((m) => m.labels?.variant === 'standard')?.value), 6);
  t.equal(Number(elements.find((m) => m.labels?.variant === 'alpha')?.value), 4);
  const latency = after.get('http_request_duration_seconds');
  t.equal(latency?.type, 'HISTOGRAM');
  // The parser folds histogram label sets together (it expects `le` last), so the count is read from the text.
  const text = (await app.inject('/metrics')).body;
  t.match(text, /^http_request_duration_seconds_count\{route="\/v1\/dropout",format="json",status="200"\} 2$/m);
});

t.test('compressed request bodies and responses, both ways', async (t) => {
  const app = await startApp(t);
  const x = Array.from(new Float32Array(genInput(3000)));
  const expected = referenceDropout(new Float32Array(x), 0.5, 9n);
  const gz = await app.inject({
    method: 'POST',
    url: '/v1/dropout',
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'accept-encoding': 'gzip' },
    payload: gzipSync(JSON.stringify({ input: x, p: 0.5, seed: 9 })),
  });
  t.equal(gz.statusCode, 200);
  t.equal(gz.headers['content-encoding'], 'gzip');
  t.same(JSON.parse(gunzipSync(gz.rawPayload).toString()).output.map(Math.fround), Array.from(expected.out));
  const binary = await app.inject({
    method: 'POST',
    url: '/v1/dropout?p=0.5&seed=9',
    headers: {
      'content-type': 'application/octet-stream',
      'content-encoding': 'deflate',
      'accept-encoding': 'deflate',
    },
    payload: deflateSync(f32Bytes(x)),
  });
  t.same(
    binary.rawPayload,
    Buffer.from(expected.out.buffer),
    'a deflated binary body is read; binary replies stay raw',
  );
  t.equal(binary.headers['content-encoding'], undefined);
  // Found by the fuzzer: a raw tensor that happens to start with zlib's magic bytes must not be labelled deflated.
  const lookalike = Buffer.concat([Buffer.from([0x78, 0x9c]), Buffer.alloc(1022)]);
  const raw = await app.inject({
    method: 'POST',
    url: '/v1/dropout?mode=eval',
    headers: { 'content-type': 'application/octet-stream', 'accept-encoding': 'gzip, deflate' },
    payload: lookalike,
  });
  t.equal(raw.headers['content-encoding'], undefined);
  t.same(raw.rawPayload, lookalike);
});

t.test('a small body that inflates past MAX_BODY_BYTES gets 413, not an out-of-memory', async (t) => {
  const app = await startApp(t, { MAX_BODY_BYTES: '1048576' });
  const bomb = gzipSync(Buffer.alloc(64 << 20));
  t.ok(bomb.length < 100_000, `${bomb.length} compressed bytes`);
  const res = await app.inject({
    method: 'POST',
    url: '/v1/dropout?seed=1',
    headers: { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' },
    payload: bomb,
  });
  t.equal(res.statusCode, 413);
  t.equal(res.json().code, 'TOO_LARGE');
  const broken = await app.inject({
    method: 'POST',
    url: '/v1/dropout',
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    payload: Buffer.from('this is not gzip'),
  });
  t.equal(broken.statusCode, 400);
  const after = await postJson(app, { input: [1, 2], seed: 3 });
  t.equal(after.statusCode, 200, 'the service is fine afterwards');
});
