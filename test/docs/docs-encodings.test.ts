/**
 * /docs reached the ways a browser reaches it (plain HTTP, a query string on any of its URLs) still renders, and
 * request bodies declare their content coding the ways HTTP allows (any case, identity).
 */
import { get, type IncomingMessage } from 'node:http';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import { f32Bytes, startApp } from '../helpers.js';

const ORIGIN = 'http://localhost';

/** Follows redirects the way a browser does (Location relative to the current URL), at most `hops` of them. */
async function land(app: FastifyInstance, start: string, hops = 2) {
  const seen = [start];
  let url = new URL(start, ORIGIN);
  for (;;) {
    const res = await app.inject(url.pathname + url.search);
    if (res.statusCode < 300 || res.statusCode >= 400) return { res, url, seen };
    const location = res.headers.location;
    if (typeof location !== 'string') throw new Error(`${res.statusCode} without Location for ${url}`);
    const next = new URL(location, url);
    if (next.href === url.href) throw new Error(`${url.pathname}${url.search} redirects to itself`);
    url = next;
    seen.push(url.pathname + url.search);
    if (seen.length - 1 > hops) throw new Error(`more than ${hops} redirects: ${seen.join(' -> ')}`);
  }
}

/** Runs the served swagger-initializer.js as the page at `pageUrl` would, and returns the spec URL it hands Swagger UI. */
function specUrlOf(initializer: string, pageUrl: URL): string {
  let config: { url?: string } = {};
  const window: { location: { href: string }; onload?: () => void } = { location: { href: pageUrl.href } };
  const SwaggerUIBundle = Object.assign(
    (c: { url?: string }) => {
      config = c;
      return { initOAuth: () => {} };
    },
    { presets: { apis: {} }, plugins: { DownloadUrl: {} } },
  );
  const document = {
    body: {},
    querySelector: () => null,
    createElement: () => {
      let href = '';
      return {
        get href() {
          return href;
        },
        set href(value: string) {
          href = new URL(value, pageUrl).href;
        },
      };
    },
  };
  class MutationObserver {
    observe() {}
    disconnect() {}
  }
  runInNewContext(initializer, { window, document, SwaggerUIBundle, SwaggerUIStandalonePreset: {}, MutationObserver });
  window.onload?.();
  if (config.url === undefined) throw new Error('the initializer never started Swagger UI');
  return config.url;
}

t.test("the docs CSP keeps default-src 'self' without upgrade-insecure-requests", async (t) => {
  const app = await startApp(t);
  for (const url of ['/docs/', '/docs', '/docs/static/index.html']) {
    const res = await app.inject(url);
    t.ok(res.statusCode < 400, `${url}: ${res.statusCode}`);
    const csp = String(res.headers['content-security-policy'] ?? '');
    t.match(csp, /(^|;)\s*default-src 'self'\s*(;|$)/, `${url}: default-src 'self'`);
    t.notMatch(csp, /upgrade-insecure-requests/i, `${url}: plain HTTP assets are not rewritten to https`);
  }
});

t.test('a query string on a docs URL still lands on a working Swagger UI', async (t) => {
  const app = await startApp(t);
  const initializer = await app.inject('/docs/static/swagger-initializer.js');
  t.equal(initializer.statusCode, 200);
  const starts = [
    '/docs',
    '/docs/',
    '/docs?x=1',
    '/docs/?x=1',
    '/docs?a=1&b=/./json',
    '/docs/static/index.html',
    '/docs/static/index.html?x',
    '/docs/static/index.html?x=1&y=2',
  ];
  for (const start of starts) {
    const landed = await land(app, start).catch((error: Error) => error);
    if (landed instanceof Error) {
      t.fail(`${start}: ${landed.message}`);
      continue;
    }
    const { res, url, seen } = landed;
    t.equal(res.statusCode, 200, `${start}: ${seen.join(' -> ')}`);
    t.match(String(res.headers['content-type']), /^text\/html/, `${start}: HTML`);
    // Every script and stylesheet of the page resolves, from where the browser ended up, to a served asset.
    const assets = [...res.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => new URL(m[1] as string, url));
    t.ok(assets.length >= 4, `${start}: ${assets.length} assets`);
    for (const asset of assets) {
      const got = await app.inject(asset.pathname + asset.search);
      t.equal(got.statusCode, 200, `${start}: ${asset.pathname}${asset.search}`);
    }
    const spec = new URL(specUrlOf(initializer.body, url));
    t.equal(spec.pathname + spec.search, '/docs/json', `${start}: the spec URL`);
    const json = await app.inject(spec.pathname + spec.search);
    t.equal(json.statusCode, 200);
    t.match(String(json.headers['content-type']), /^application\/json/, `${start}: the spec is JSON`);
    t.match(json.body, /"openapi":"3\.1\.0"/, `${start}: the spec is the OpenAPI document`);
  }
});

t.test('a bare ? on /docs, which only a real request line can carry, is redirected too', async (t) => {
  const app = await startApp(t);
  const origin = new URL(await app.listen({ host: '127.0.0.1', port: 0 }));
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    get({ host: origin.hostname, port: origin.port, path: '/docs?' }, resolve).on('error', reject);
  });
  res.resume();
  t.equal(res.statusCode, 302);
  t.equal(new URL(String(res.headers.location), 'http://h/docs?').href, 'http://h/docs');
});

const x = Array.from({ length: 600 }, (_, i) => (i % 17) - 8.25);
const jsonBody = JSON.stringify({ input: x, p: 0.5, seed: 11 });
const inferBody = JSON.stringify({
  inputs: [{ name: 'input', shape: [x.length], datatype: 'FP32', data: x }],
  parameters: { seed: 11, p: 0.5 },
});

/** The Open Inference Protocol has no 415: the v2 routes answer an unsupported coding with 400. */
const routes = [
  { url: '/v1/dropout', type: 'application/json', body: jsonBody, unsupported: 415 },
  { url: '/v1/dropout?p=0.5&seed=11', type: 'application/octet-stream', body: f32Bytes(x), unsupported: 415 },
  { url: '/v2/models/dropout/infer', type: 'application/json', body: inferBody, unsupported: 400 },
];

t.test('content codings are case-insensitive and identity is no coding', async (t) => {
  const app = await startApp(t);
  for (const { url, type, body, unsupported } of routes) {
    const post = (payload: string | Buffer, coding?: string) =>
      app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': type, ...(coding === undefined ? {} : { 'content-encoding': coding }) },
        payload,
      });
    const plain = await post(body);
    t.equal(plain.statusCode, 200, `${url} ${type}: ${plain.body.slice(0, 200)}`);
    for (const coding of ['identity', 'IDENTITY', 'Identity']) {
      const res = await post(body, coding);
      t.equal(res.statusCode, 200, `${url} ${type}, ${coding}: ${res.body.slice(0, 200)}`);
      t.same(res.rawPayload, plain.rawPayload, `${url} ${type}, ${coding}: the same reply as without`);
    }
    const gzipped = gzipSync(body);
    const gzip = await post(gzipped, 'gzip');
    t.equal(gzip.statusCode, 200, `${url} ${type}, gzip`);
    t.same(gzip.rawPayload, plain.rawPayload, `${url} ${type}, gzip: the same reply as uncompressed`);
    for (const coding of ['GZIP', 'Gzip']) {
      const res = await post(gzipped, coding);
      t.equal(res.statusCode, 200, `${url} ${type}, ${coding}: ${res.body.slice(0, 200)}`);
      t.same(res.rawPayload, gzip.rawPayload, `${url} ${type}, ${coding}: the same reply as gzip`);
    }
    for (const coding of ['br', 'BR', 'compress']) {
      const res = await post(body, coding);
      t.equal(res.statusCode, unsupported, `${url} ${type}, ${coding}: still unsupported`);
      t.match(res.body, /Unsupported Content-Encoding/i, `${url} ${type}, ${coding}: says why`);
    }
  }
});
