/**
 * The fuzz properties, shared by test/fuzz/fuzz.test.ts (a short run in `npm test`) and scripts/fuzz.ts
 * (`npm run fuzz`, the long run). Each property generates whole HTTP requests, sends them with app.inject to two
 * apps (everything on the main thread; everything through the worker pool in 64-element chunks), and holds every
 * reply to the oracle (./oracle.ts): never a 5xx; a 4xx only with a problem document (/v1) or {"error"} (/v2) whose
 * code describes something actually wrong; a 2xx only for a valid request, and then byte-exact. Every `batch` cases,
 * and at the end of each property, known-good requests on both apps must still return the reference bytes.
 */
import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { f32Bytes } from '../helpers.js';
import { genInput, referenceDropout } from '../reference.js';
import {
  acceptArb,
  applyEncoding,
  binaryCase,
  contentTypeArb,
  type EncodingCase,
  encodeQuery,
  encodingArb,
  garbageQuery,
  jsonContentType,
  malformedJsonText,
  npyCase,
  v1JsonBody,
  v2Case,
} from './arbitraries.js';
import { checkV1, checkV2 } from './check.js';
import {
  judgeV1Binary,
  judgeV1Json,
  judgeV1Npy,
  judgeV1Unparsed,
  judgeV2,
  type Limits,
  V2Verdict,
  Verdict,
} from './oracle.js';

export type AppName = 'inline' | 'pool';

/** The limits both fuzz apps run with: small, so that the limits themselves are reachable. */
export const FUZZ_LIMITS: Limits = { maxElements: 4096, maxBodyBytes: 65536, maxRank: 32 };

export interface FuzzEnv {
  apps: Record<AppName, FastifyInstance>;
  limits: Limits;
  /** Known-good requests are checked after every `batch` cases. */
  batch: number;
  cases: number;
  goodChecks: number;
  /** Leave out inputs of the known bugs below (FUZZ_KNOWN_BUGS=skip), to fuzz everything else. */
  skipKnown: boolean;
  /** Replies by status class (2xx/4xx) of the property running now, to show that both are reached. */
  replies: Record<string, number>;
  /** Record failing cases and go on (the long run's count), rather than stop at the first one and shrink it. */
  collect: boolean;
  failures: string[];
}

export async function startFuzzApps(): Promise<FuzzEnv> {
  const common = {
    LOG_LEVEL: 'silent',
    // The oracle computes on this thread between requests, which under-pressure would read as event-loop lag.
    MAX_EVENT_LOOP_DELAY_MS: '0',
    // A request the service never answers shows up as its 504 (a 5xx) well before the fuzzer's own timeout.
    REQUEST_TIMEOUT_MS: '2000',
    MAX_ELEMENTS: String(FUZZ_LIMITS.maxElements),
    MAX_BODY_BYTES: String(FUZZ_LIMITS.maxBodyBytes),
  };
  const inline = await buildApp(loadConfig({ ...common, WORKERS: '1' }));
  const pool = await buildApp(
    loadConfig({ ...common, WORKERS: '2', INLINE_MAX_JSON_BYTES: '0', INLINE_MAX_ELEMENTS: '0', CHUNK_ELEMENTS: '64' }),
  );
  await warmUp(pool);
  const skipKnown = process.env.FUZZ_KNOWN_BUGS === 'skip';
  return {
    apps: { inline, pool },
    limits: FUZZ_LIMITS,
    batch: 50,
    cases: 0,
    goodChecks: 0,
    skipKnown,
    replies: {},
    collect: false,
    failures: [],
  };
}

/**
 * Pool workers load their modules (through tsx, under test) on first use, which on a loaded machine can take longer
 * than the fuzz apps' 2 s deadline: a cold start would read as the service's 504. Requests that reach every worker
 * go first, until one is answered; /v2 JSON requests too, whose tasks have a module of their own.
 */
async function warmUp(app: FastifyInstance): Promise<void> {
  const input = Array.from({ length: 512 }, (_, i) => i / 512);
  const payload = { input, p: 0.5, seed: 1 };
  const v2 = { inputs: [{ name: 'input', shape: [512], datatype: 'FP32', data: input }], parameters: { seed: 1 } };
  const deadline = Date.now() + 60_000;
  for (;;) {
    const replies = await Promise.all(
      [1, 2, 3, 4].flatMap(() => [
        app.inject({ method: 'POST', url: '/v1/dropout', payload }),
        app.inject({ method: 'POST', url: '/v2/models/dropout/infer', payload: v2 }),
      ]),
    );
    if (replies.every((reply) => reply.statusCode === 200)) return;
    if (Date.now() > deadline) throw new Error(`the pool app did not warm up: ${replies[0].body}`);
  }
}

export async function closeFuzzApps(env: FuzzEnv): Promise<void> {
  await Promise.all(Object.values(env.apps).map((app) => app.close()));
}

export interface FuzzRequest {
  app: AppName;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  url: string;
  headers: Record<string, string>;
  payload: Buffer;
}

export interface FuzzCase {
  request: FuzzRequest;
  judge: (limits: Limits) => Verdict | V2Verdict | RouteRule;
  /** What the generator did, for failure reports. */
  how: string;
}

/** The request as text a person can replay (curl against a server started with the fuzz limits). */
export function describeRequest(r: FuzzRequest): string {
  const text = r.payload.toString('utf8');
  const printable =
    Buffer.from(text, 'utf8').equals(r.payload) &&
    ![...text].some((c) => c.charCodeAt(0) < 0x20 && !'\t\n\r'.includes(c));
  const body =
    r.payload.length === 0
      ? 'no body'
      : printable && text.length <= 3000
        ? `body ${JSON.stringify(text)}`
        : `body (${r.payload.length} bytes, base64) ${r.payload.toString('base64').slice(0, 4000)}${r.payload.length > 3000 ? '…' : ''}`;
  return `${r.method} ${r.url} [app: ${r.app}] headers ${JSON.stringify(r.headers)} ${body}`;
}

/** Routes that are not /v1/dropout or /v2 inference: which statuses a request may get. */
export interface RouteRule {
  kind: 'route';
  ok: boolean;
  v2: boolean;
  anyBelow500: boolean;
}

function checkRoute(res: LightMyRequestResponse, rule: RouteRule): string | null {
  const status = res.statusCode;
  if (status >= 500) return `${status} (5xx) ${res.body.slice(0, 300)}`;
  if (rule.anyBelow500) return null;
  if (status < 400) return rule.ok ? null : `${status} for a route that does not exist`;
  // A known path asked with another method: 405 with the methods it does take.
  if (status === 405 && !rule.ok && typeof res.headers.allow === 'string' && res.headers.allow !== '') return null;
  if (rule.v2) {
    if (res.headers['content-type'] !== 'application/json') return `v2 ${status} with ${res.headers['content-type']}`;
    const body = JSON.parse(res.body);
    return typeof body.error === 'string' && status === 404 ? null : `v2 ${status} ${res.body.slice(0, 200)}`;
  }
  if (!String(res.headers['content-type']).startsWith('application/problem+json')) return `${status} not a problem`;
  const problem = JSON.parse(res.body);
  if (status === 404 && problem.code === 'NOT_FOUND') return null;
  if (status === 400 && typeof problem.code === 'string' && /%/.test(res.raw.req.url ?? '')) return null;
  return `${status} ${problem.code} for a route that does not exist`;
}

/**
 * Bugs this fuzzer finds that are still open (reported to the owner of src/, not fixed here). The properties keep
 * expecting the right answer, so they fail until the bug is fixed; FUZZ_KNOWN_BUGS=skip leaves these inputs out to
 * fuzz the rest.
 */
export interface KnownBug {
  id: string;
  description: string;
  /** The request is one of the bug's inputs. */
  matches?: (r: FuzzRequest) => boolean;
  /** The reply shows the bug (for bugs that depend on what the service computed). */
  matchesReply?: (r: FuzzRequest, res: LightMyRequestResponse) => boolean;
}

export const KNOWN_BUGS: KnownBug[] = [];

/** A request that gets no reply at all within this time is a failure (a hang), not a slow case. */
const REPLY_TIMEOUT_MS = 15_000;

export async function runCase(env: FuzzEnv, c: FuzzCase): Promise<void> {
  const { request } = c;
  if (env.skipKnown) fc.pre(!KNOWN_BUGS.some((bug) => bug.matches?.(request)));
  let timer: NodeJS.Timeout | undefined;
  const res = await Promise.race([
    env.apps[request.app].inject({
      method: request.method,
      url: request.url,
      headers: request.headers,
      payload: request.method === 'GET' ? undefined : request.payload,
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no reply within ${REPLY_TIMEOUT_MS} ms\n    request: ${describeRequest(request)}`)),
        REPLY_TIMEOUT_MS,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  const verdict = c.judge(env.limits);
  let failure: string | null;
  try {
    failure =
      verdict instanceof V2Verdict
        ? checkV2(res, verdict)
        : verdict instanceof Verdict
          ? checkV1(res, verdict)
          : checkRoute(res, verdict);
  } catch (error) {
    failure = `the reply cannot be read: ${(error as Error).message} (Content-Encoding ${res.headers['content-encoding']})`;
  }
  if (failure && env.skipKnown) fc.pre(!KNOWN_BUGS.some((bug) => bug.matchesReply?.(request, res)));
  if (failure) {
    // FUZZ_DUMP=file: the failing request, payload in base64, for replaying it by hand.
    if (process.env.FUZZ_DUMP) {
      writeFileSync(
        process.env.FUZZ_DUMP,
        `${JSON.stringify({ ...request, payload: request.payload.toString('base64'), failure }, null, 1)}\n`,
      );
    }
    const message = `${failure}\n    generator: ${c.how}\n    request: ${describeRequest(request)}\n    reply: ${res.statusCode} ${res.headers['content-type']} ${res.body.slice(0, 400)}`;
    if (!env.collect) throw new Error(message);
    env.failures.push(message);
  }
  env.cases++;
  const kind = `${Math.floor(res.statusCode / 100)}xx`;
  env.replies[kind] = (env.replies[kind] ?? 0) + 1;
  if (env.cases % env.batch === 0) await knownGood(env);
}

// ---------------------------------------------------------------------------------------------------------------
// Known-good requests: after hostile input the service must still give the reference bytes.

const GOOD_X = new Float32Array(genInput(256));
const GOOD_BYTES = f32Bytes(GOOD_X);
const GOOD_EXPECTED = Buffer.from(referenceDropout(GOOD_X, 0.5, 77n).out.buffer);
const GOOD_V2_HEADER = Buffer.from(
  JSON.stringify({
    inputs: [{ name: 'input', shape: [16, 16], datatype: 'FP32', parameters: { binary_data_size: GOOD_BYTES.length } }],
    outputs: [{ name: 'output', parameters: { binary_data: true } }],
    parameters: { p: 0.5, seed: 77 },
  }),
);

export async function knownGood(env: FuzzEnv): Promise<void> {
  env.goodChecks++;
  for (const [name, app] of Object.entries(env.apps)) {
    const binary = await app.inject({
      method: 'POST',
      url: '/v1/dropout?p=0.5&seed=77&shape=16,16',
      headers: { 'content-type': 'application/octet-stream' },
      payload: GOOD_BYTES,
    });
    const json = await app.inject({
      method: 'POST',
      url: '/v1/dropout',
      headers: { 'content-type': 'application/json', accept: 'application/octet-stream' },
      payload: JSON.stringify({ input: Array.from(GOOD_X), p: 0.5, seed: 77 }),
    });
    const v2 = await app.inject({
      method: 'POST',
      url: '/v2/models/dropout/infer',
      headers: { 'inference-header-content-length': String(GOOD_V2_HEADER.length) },
      payload: Buffer.concat([GOOD_V2_HEADER, GOOD_BYTES]),
    });
    const v2Output = v2.rawPayload.subarray(Number(v2.headers['inference-header-content-length']));
    for (const [what, res, bytes] of [
      ['binary', binary, binary.rawPayload],
      ['JSON', json, json.rawPayload],
      ['v2', v2, v2Output],
    ] as const) {
      if (res.statusCode !== 200 || !bytes.equals(GOOD_EXPECTED)) {
        throw new Error(
          `after ${env.cases} fuzz cases the known-good ${what} request on the ${name} app fails: ${res.statusCode} ${res.body.slice(0, 200)}`,
        );
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The properties

const appArb = fc.constantFrom<AppName>('inline', 'pool');

function v1Json(
  app: AppName,
  text: string,
  contentType: string,
  accept: string | undefined,
  how: string,
  pairs: [string, string][] = [],
): FuzzCase {
  const payload = Buffer.from(text, 'utf8');
  const headers: Record<string, string> = { 'content-type': contentType };
  if (accept !== undefined) headers.accept = accept;
  const query = pairs.length > 0 ? `?${encodeQuery(pairs)}` : '';
  return {
    request: { app, method: 'POST', url: `/v1/dropout${query}`, headers, payload },
    judge: (limits) => judgeV1Json(payload, accept, limits, pairs),
    how,
  };
}

const v1JsonFields = fc
  .record({ app: appArb, text: v1JsonBody, ct: jsonContentType, accept: acceptArb })
  .map(({ app, text, ct, accept }) => v1Json(app, text, ct, accept, 'v1 JSON fields'));

const v1JsonText = fc
  .record({ app: appArb, text: malformedJsonText, ct: jsonContentType, accept: acceptArb })
  .map(({ app, text, ct, accept }) => v1Json(app, text, ct, accept, 'v1 malformed JSON text'));

const v1Binary = fc
  .record({
    app: appArb,
    c: binaryCase,
    accept: acceptArb,
    garbage: fc.oneof({ weight: 12, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: garbageQuery }),
  })
  .map(({ app, c, accept, garbage }): FuzzCase => {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (accept !== undefined) headers.accept = accept;
    const query = [encodeQuery(c.pairs), garbage].filter((s) => s).join('&');
    return {
      request: { app, method: 'POST', url: `/v1/dropout${query ? `?${query}` : ''}`, headers, payload: c.body },
      judge: (limits) => {
        const verdict = judgeV1Binary(c.pairs, c.body, accept, limits);
        if (garbage === null) return verdict;
        // A key no API knows: any refusal is right, success is not.
        const refused = new Verdict().fail('INVALID_REQUEST', `query text ${garbage}`);
        refused.anyCode = true;
        return refused;
      },
      how: 'v1 raw binary',
    };
  });

const v1Npy = fc.record({ app: appArb, c: npyCase, accept: acceptArb }).map(({ app, c, accept }): FuzzCase => {
  const headers: Record<string, string> = { 'content-type': 'application/x-npy' };
  if (accept !== undefined) headers.accept = accept;
  const query = encodeQuery(c.pairs);
  return {
    request: { app, method: 'POST', url: `/v1/dropout${query ? `?${query}` : ''}`, headers, payload: c.body },
    judge: (limits) => judgeV1Npy(c.pairs, c.body, accept, limits, c.strict),
    how: `v1 .npy: ${c.how}`,
  };
});

const v2Infer = fc.record({ app: appArb, c: v2Case }).map(
  ({ app, c }): FuzzCase => ({
    request: { app, method: 'POST', url: c.url, headers: c.headers, payload: c.body },
    judge: (limits) =>
      judgeV2(
        c.body,
        { contentType: c.headers['content-type'], headerLength: c.headers['inference-header-content-length'] },
        c.version,
        limits,
      ),
    how: `v2 infer (${c.how})`,
  }),
);

/** The body format a Content-Type selects on /v1/dropout (media types are case-insensitive; parameters ignored). */
function formatOfContentType(ct: string | undefined): 'json' | 'binary' | 'npy' | null {
  const type = (ct ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json') return 'json';
  if (type === 'application/octet-stream') return 'binary';
  if (type === 'application/x-npy') return 'npy';
  return null;
}

/** What Content-Encoding does to the body: the bytes the parser sees, or a refusal. */
function judgeEncoding(
  wire: Buffer,
  plain: Buffer,
  e: EncodingCase,
  verdict: Verdict,
): { body: Buffer; strict: boolean } | null {
  const ce = e.contentEncoding;
  if (ce === undefined || ce === '') return { body: wire, strict: true };
  const lower = ce.trim().toLowerCase();
  if (lower !== ce || ce === 'identity') {
    // Content codings are case-insensitive and "identity" means none (RFC 9110 §8.4.1): honouring or refusing both fine.
    if (lower !== 'gzip' && lower !== 'deflate' && lower !== 'identity') {
      verdict.fail('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${ce}`);
      return null;
    }
    verdict.maybe('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${ce}`);
    if (lower === 'identity') return { body: wire, strict: false };
  }
  if (lower !== 'gzip' && lower !== 'deflate') {
    verdict.fail('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${ce}`);
    return null;
  }
  if (e.compress === 'bomb' && lower === 'gzip') {
    verdict.fail('TOO_LARGE', 'inflates past MAX_BODY_BYTES');
    return null;
  }
  if (e.compress !== lower) {
    verdict.fail('INVALID_REQUEST', `${e.compress} data sent as ${ce}`);
    if (e.compress === 'bomb') verdict.codes.add('TOO_LARGE');
    return null;
  }
  return { body: plain, strict: true };
}

const v1HeaderMix = fc
  .record({
    app: appArb,
    format: fc.constantFrom<'json' | 'binary' | 'npy'>('json', 'binary', 'npy'),
    json: v1JsonBody,
    binary: binaryCase,
    npy: npyCase,
    otherContentType: contentTypeArb,
    ownContentType: fc.boolean(),
    accept: acceptArb,
    encoding: encodingArb,
  })
  .map(({ app, format, json, binary, npy, otherContentType, ownContentType, accept, encoding }): FuzzCase => {
    const own = { json: 'application/json', binary: 'application/octet-stream', npy: 'application/x-npy' }[format];
    const contentType = ownContentType ? own : otherContentType;
    const plain = format === 'json' ? Buffer.from(json) : format === 'binary' ? binary.body : npy.body;
    const pairs = format === 'json' ? [] : format === 'binary' ? binary.pairs : npy.pairs;
    const wire = applyEncoding(plain, encoding);
    const headers: Record<string, string> = {};
    if (contentType !== undefined) headers['content-type'] = contentType;
    if (accept !== undefined) headers.accept = accept;
    if (encoding.contentEncoding !== undefined) headers['content-encoding'] = encoding.contentEncoding;
    if (encoding.acceptEncoding !== undefined) headers['accept-encoding'] = encoding.acceptEncoding;
    const query = encodeQuery(pairs);
    return {
      request: { app, method: 'POST', url: `/v1/dropout${query ? `?${query}` : ''}`, headers, payload: wire },
      judge: (limits) => {
        const encodingVerdict = new Verdict();
        const decoded = judgeEncoding(wire, plain, encoding, encodingVerdict);
        const selected = formatOfContentType(contentType);
        let verdict: Verdict;
        if (selected === null) {
          verdict = judgeV1Unparsed(pairs, accept, `Content-Type ${contentType}`);
        } else if (decoded === null) {
          verdict = new Verdict();
        } else if (selected === 'json') {
          verdict = judgeV1Json(decoded.body, accept, limits, pairs);
        } else if (selected === 'binary') {
          verdict = judgeV1Binary(pairs, decoded.body, accept, limits);
        } else {
          verdict = judgeV1Npy(pairs, decoded.body, accept, limits, format === 'npy' ? npy.strict : true);
        }
        for (const code of encodingVerdict.codes) verdict.codes.add(code);
        verdict.why.push(...encodingVerdict.why);
        if (encodingVerdict.failed) {
          verdict.definite = true;
          verdict.ok = null;
        }
        return verdict;
      },
      how: `v1 headers (${format} body, ${encoding.compress})`,
    };
  });

/**
 * Binary tensors whose bytes start like a gzip or zlib stream, returned unchanged (eval, p = 0), to a client that
 * accepts compressed replies: the reply must still decode to the tensor (a compressor that sniffs "already
 * compressed" payloads must not label raw bytes with a Content-Encoding).
 */
const compressedLookingReply = fc
  .record({
    app: appArb,
    magic: fc.constantFrom([0x1f, 0x8b], [0x78, 0x9c], [0x78, 0x01], [0x78, 0xda], [0x08, 0x1d]),
    rest: fc.uint8Array({ minLength: 1022, maxLength: 1022 }),
    query: fc.constantFrom('mode=eval', 'p=0&seed=1', 'p=0'),
    acceptEncoding: fc.constantFrom('gzip', 'deflate', '*', 'gzip, deflate', 'deflate, gzip;q=0.5'),
  })
  .map(({ app, magic, rest, query, acceptEncoding }): FuzzCase => {
    const body = Buffer.concat([Buffer.from(magic), rest]);
    const pairs = query.split('&').map((kv) => kv.split('=') as [string, string]);
    const headers = { 'content-type': 'application/octet-stream', 'accept-encoding': acceptEncoding };
    return {
      request: { app, method: 'POST', url: `/v1/dropout?${query}`, headers, payload: body },
      judge: (limits) => judgeV1Binary(pairs, body, undefined, limits),
      how: 'v1 binary reply that looks compressed, with Accept-Encoding',
    };
  });

const v1Headers = fc.oneof({ weight: 12, arbitrary: v1HeaderMix }, { weight: 1, arbitrary: compressedLookingReply });

const OK_GETS = new Set([
  '/healthz',
  '/readyz',
  '/v2',
  '/v2/health/live',
  '/v2/health/ready',
  '/v2/models/dropout',
  '/v2/models/dropout/ready',
  '/v2/models/dropout/versions/1',
  '/v2/models/dropout/versions/1/ready',
  '/openapi.json',
  '/metrics',
]);

const routePaths = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      ...OK_GETS,
      '/v1/dropout',
      '/v1/dropout/',
      '/v1/dropouts',
      '/v1',
      '/',
      '/v2/models/dropout/infer',
      '/v2/models/resnet/infer',
      '/v2/models/dropout/versions/2',
      '/v2/models/dropout/versions/2/infer',
      '/v2/nothing',
      '/v2/models',
      '/V1/DROPOUT',
      '/v1//dropout',
      '/v1/dropout/../dropout',
      '/%zz',
      '/v1/%2e%2e/healthz',
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 24 })
      // light-my-request cannot build a URL from "/\\…" (a real client could send it)
      .filter((s) => !/[#?]/.test(s) && !s.startsWith('\\'))
      .map((s) => `/${s}`),
  },
);

const routes = fc
  .record({
    app: appArb,
    method: fc.constantFrom<FuzzRequest['method']>('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
    path: routePaths,
    body: fc.oneof(fc.constant(Buffer.alloc(0)), fc.constant(Buffer.from('{"input":[1]}'))),
  })
  .filter(
    ({ method, path }) =>
      !(method === 'POST' && /^\/v(1\/dropout|2\/models\/dropout(\/versions\/1)?\/infer)$/.test(path)),
  )
  .map(({ app, method, path, body }): FuzzCase => {
    const headers: Record<string, string> = body.length > 0 ? { 'content-type': 'application/json' } : {};
    return {
      request: { app, method, url: path, headers, payload: body },
      judge: (): RouteRule => ({
        kind: 'route',
        ok: method === 'GET' && OK_GETS.has(path),
        v2: path.startsWith('/v2/') || path === '/v2',
        anyBelow500: path.startsWith('/docs') || path.includes('..') || path.includes('%') || path.includes('//'),
      }),
      how: 'routes',
    };
  });

export interface FuzzProperty {
  name: string;
  arbitrary: fc.Arbitrary<FuzzCase>;
  /** Share of the runs this property gets (the long run scales them to its total). */
  weight: number;
}

export const PROPERTIES: FuzzProperty[] = [
  {
    name: 'v1 JSON: every field valid, missing or of the wrong type, shape or value',
    arbitrary: v1JsonFields,
    weight: 3,
  },
  {
    name: 'v1 JSON: malformed text, wrong kinds of JSON, deep nesting, BOM, one edit from valid',
    arbitrary: v1JsonText,
    weight: 2,
  },
  {
    name: 'v1 raw binary: odd lengths, wrong shape/dtype/p/seed/offset/noise_shape/variant/rng, random query',
    arbitrary: v1Binary,
    weight: 2,
  },
  { name: 'v1 .npy: lying, mutated, truncated and extended headers and data', arbitrary: v1Npy, weight: 2 },
  {
    name: 'v2 infer: headers, Inference-Header-Content-Length, binary_data_size, datatypes, shapes, outputs',
    arbitrary: v2Infer,
    weight: 2,
  },
  {
    name: 'v1 Content-Type / Content-Encoding / Accept / Accept-Encoding over every body format',
    arbitrary: v1Headers,
    weight: 2,
  },
  { name: 'other routes and methods', arbitrary: routes, weight: 1 },
];

export interface PropertyReport {
  name: string;
  runs: number;
  skipped: number;
  /** Failing cases (collect mode: all of them; otherwise 1 if the property failed). */
  failures: number;
  /** Replies by status class over all runs (shrinking included). */
  replies: Record<string, number>;
  failed: boolean;
  seed: number;
  ms: number;
  error?: string;
  counterexamplePath?: string | null;
}

/**
 * Runs one property for `numRuns` cases with `seed`; the known-good check closes it. `mode`: 'stop' ends at the first
 * failing case as is, 'shrink' ends there and shrinks it to a minimal one, 'collect' runs every case and counts the
 * failing ones (`failures`).
 */
export async function runProperty(
  env: FuzzEnv,
  property: FuzzProperty,
  numRuns: number,
  seed: number,
  mode: 'stop' | 'shrink' | 'collect' = 'shrink',
): Promise<PropertyReport> {
  const started = performance.now();
  env.replies = {};
  env.collect = mode === 'collect';
  env.failures = [];
  const details = await fc.check(
    fc.asyncProperty(property.arbitrary, (c) => runCase(env, c)),
    { numRuns, seed, endOnFailure: mode !== 'shrink' },
  );
  env.collect = false;
  let error: string | undefined;
  if (env.failures.length > 0) {
    error = env.failures[0];
  } else if (details.failed) {
    error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  } else {
    try {
      await knownGood(env);
    } catch (e) {
      error = (e as Error).message;
    }
  }
  return {
    name: property.name,
    runs: details.numRuns,
    skipped: details.numSkips,
    replies: env.replies,
    failures: details.failed ? Math.max(1, env.failures.length) : env.failures.length,
    failed: details.failed || error !== undefined,
    seed,
    ms: performance.now() - started,
    error,
    counterexamplePath: details.counterexamplePath,
  };
}

/** FUZZ_RUNS (per property, scaled by weight), FUZZ_SEED (fixed by default so CI is reproducible). */
export function fuzzSettings(env: Record<string, string | undefined>, defaultRuns: number) {
  const runs = env.FUZZ_RUNS === undefined ? defaultRuns : Number(env.FUZZ_RUNS);
  const seed = env.FUZZ_SEED === undefined ? 0x5eed : Number(env.FUZZ_SEED);
  if (!Number.isSafeInteger(runs) || runs < 1)
    throw new Error(`FUZZ_RUNS must be a positive integer, got ${env.FUZZ_RUNS}`);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got ${env.FUZZ_SEED}`);
  return { runs, seed };
}

/** Runs per property: `runs` × its weight (FUZZ_RUNS is the base count). */
export function runsFor(property: FuzzProperty, runs: number): number {
  return Math.max(1, Math.round(runs * property.weight));
}
