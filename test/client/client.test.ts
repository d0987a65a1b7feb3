/**
 * The typed client (dropout-service/client) against the real app over HTTP on 127.0.0.1: every call equals the same
 * request made by hand, errors arrive as DropoutServiceError with the problem code, and the types are enforced
 * (npm run typecheck checks the @ts-expect-error lines below). Last, a fresh TypeScript project imports the built
 * package through its `exports` and runs against the service.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import {
  createClient,
  type DropoutClient,
  type DropoutErrorCode,
  DropoutServiceError,
  type Mode,
  type Rng,
  type Variant,
} from '../../src/client/index.js';
import type { Mode as ServerMode, Rng as ServerRng, Variant as ServerVariant } from '../../src/dropout/settings.js';
import { PROBLEMS, type ProblemCode } from '../../src/errors.js';
import { startApp } from '../helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

const app = await startApp(t);
const origin = await app.listen({ host: '127.0.0.1', port: 0 });
const client = createClient({ baseUrl: origin });

async function byHand(init: { body: string | Uint8Array<ArrayBuffer>; query?: string; accept?: string }) {
  const json = typeof init.body === 'string';
  const response = await fetch(`${origin}/v1/dropout${init.query ? `?${init.query}` : ''}`, {
    method: 'POST',
    headers: {
      'content-type': json ? 'application/json' : 'application/octet-stream',
      ...(init.accept ? { accept: init.accept } : {}),
    },
    body: init.body,
  });
  if (response.status !== 200) throw new Error(`by hand: ${response.status} ${await response.text()}`);
  return response;
}

function bytesOf(a: Float32Array | Float64Array | Uint16Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(a.buffer as ArrayBuffer, a.byteOffset, a.byteLength);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

t.test('JSON: a nested array, with the mask, equals the request made by hand', async (t) => {
  const input = [
    [1, 2, 3],
    [4, 5, 6],
  ];
  const result = await client.dropout(input, { p: 0.5, seed: 42, returnMask: true });
  const hand = await (await byHand({ body: JSON.stringify({ input, p: 0.5, seed: 42, return_mask: true }) })).json();
  t.same(result, hand);
  // The README's example.
  t.same(result.output, [
    [0, 4, 6],
    [8, 0, 12],
  ]);
  t.same(result.mask, [
    [false, true, true],
    [true, false, true],
  ]);
  t.match(result, { shape: [2, 3], dtype: 'float32', p: 0.5, mode: 'train', variant: 'standard', rng: 'philox' });
  t.equal(result.seed, '42');
  t.equal(result.kept, 4);
  // Typed: a number[][] in gives number[][] (and boolean[][] for the mask, present since returnMask is true).
  const output: number[][] = result.output;
  const mask: boolean[][] = result.mask;
  t.ok(output && mask);
});

t.test('JSON: a flat array with shape, every setting, equals the request made by hand', async (t) => {
  const input = [0.5, -1.25, 3, 4.75, 1e-3, -0, 7, 8];
  const result = await client.dropout(input, {
    shape: [2, 2, 2],
    dtype: 'float64',
    p: 0.3,
    seed: '123456789012345678',
    offset: 5,
    variant: 'alpha',
    noiseShape: [2, 2, 1],
    rng: 'philox',
  });
  const hand = await (
    await byHand({
      body: JSON.stringify({
        input,
        shape: [2, 2, 2],
        dtype: 'float64',
        p: 0.3,
        seed: '123456789012345678',
        offset: 5,
        variant: 'alpha',
        noise_shape: [2, 2, 1],
        rng: 'philox',
      }),
    })
  ).json();
  t.same(result, hand);
  const flat: number[] = result.output;
  t.equal(flat.length, 8, 'a flat input gives a flat output');
  t.equal(result.mask, undefined, 'no mask unless asked');
});

t.test('binary: a Float32Array goes as octet-stream and comes back as one, equal to the request by hand', async (t) => {
  const x = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const result = await client.dropout(x, { shape: [3, 4], p: 0.25, seed: 42, offset: 3, variant: 'alpha' });
  const response = await byHand({
    body: bytesOf(x),
    query: 'shape=3,4&dtype=float32&p=0.25&seed=42&offset=3&variant=alpha',
  });
  const hand = new Float32Array(await response.arrayBuffer());
  const data: Float32Array = result.data;
  t.ok(data instanceof Float32Array);
  t.same(Array.from(data), Array.from(hand));
  t.same(result.shape, [3, 4]);
  t.equal(result.dtype, 'float32');
  t.equal(result.seed, response.headers.get('dropout-seed'));
  t.equal(result.kept, Number(response.headers.get('dropout-kept')));
  t.equal(result.offset, 3);
  t.same(Array.from(x), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 'the input is not modified');

  // The same tensor as JSON gives the same values.
  const asJson = await client.dropout(Array.from(x), { shape: [3, 4], p: 0.25, seed: 42, offset: 3, variant: 'alpha' });
  t.same(asJson.output.map(Math.fround), Array.from(hand));
});

t.test('binary: Float64Array, and float16/bfloat16 bit patterns in a Uint16Array', async (t) => {
  const x64 = Float64Array.from({ length: 10 }, (_, i) => i / 3);
  const r64 = await client.dropout(x64, { p: 0.5, seed: 7n });
  const hand64 = new Float64Array(
    await (await byHand({ body: bytesOf(x64), query: 'dtype=float64&p=0.5&seed=7' })).arrayBuffer(),
  );
  const data64: Float64Array = r64.data;
  t.same(Array.from(data64), Array.from(hand64));
  t.same(r64.shape, [10]);

  for (const dtype of ['float16', 'bfloat16'] as const) {
    // 1, 2, 3, 4 in float16 (0x3c00 …) and bfloat16 (0x3f80 …).
    const bits =
      dtype === 'float16'
        ? new Uint16Array([0x3c00, 0x4000, 0x4200, 0x4400])
        : new Uint16Array([0x3f80, 0x4000, 0x4040, 0x4080]);
    const r = await client.dropout(bits, { dtype, shape: [2, 2], p: 0.5, seed: 42 });
    const hand = new Uint16Array(
      await (await byHand({ body: bytesOf(bits), query: `shape=2,2&dtype=${dtype}&p=0.5&seed=42` })).arrayBuffer(),
    );
    const data: Uint16Array = r.data;
    t.same(Array.from(data), Array.from(hand), dtype);
    t.equal(r.dtype, dtype);
  }
});

t.test('format switches the reply: a typed array as JSON, an array as binary', async (t) => {
  const x = new Float32Array([1, 2, 3, 4, 5, 6]);
  const asJson = await client.dropout(x, { shape: [2, 3], seed: 42, format: 'json' });
  const hand = await (
    await byHand({ body: bytesOf(x), query: 'shape=2,3&dtype=float32&seed=42', accept: 'application/json' })
  ).json();
  t.same(asJson, hand);
  t.same(asJson.output, [
    [0, 4, 6],
    [8, 0, 12],
  ]);

  const asBinary = await client.dropout([1.5, 2.5, 3.5], { dtype: 'float64', seed: 42, format: 'binary' });
  const data: Float64Array = asBinary.data;
  const handBinary = await byHand({
    body: JSON.stringify({ input: [1.5, 2.5, 3.5], dtype: 'float64', seed: 42 }),
    accept: 'application/octet-stream',
  });
  t.same(Array.from(data), Array.from(new Float64Array(await handBinary.arrayBuffer())));
});

t.test('seed as a bigint keeps all 64 bits', async (t) => {
  const input = Array.from({ length: 16 }, (_, i) => i + 1);
  const big = await client.dropout(input, { seed: 18446744073709551615n });
  t.equal(big.seed, '18446744073709551615');
  const hand = await (await byHand({ body: JSON.stringify({ input, seed: '18446744073709551615' }) })).json();
  t.same(big, hand);
  const asString = await client.dropout(input, { seed: '18446744073709551615' });
  t.same(asString, big);
  const wrapped = await client.dropout(input, { seed: -1n });
  t.same(wrapped.output, big.output, '-1 wraps to 2^64 − 1 as torch.manual_seed does');
  const binary = await client.dropout(Float32Array.from(input), { seed: 18446744073709551615n });
  t.equal(binary.seed, '18446744073709551615');
  t.same(Array.from(binary.data), big.output);
});

t.test('NaN and ±Infinity travel as numbers on the client side', async (t) => {
  const result = await client.dropout([Number.NaN, Number.POSITIVE_INFINITY, -Infinity, 1], { mode: 'eval' });
  t.same(result.output, [Number.NaN, Number.POSITIVE_INFINITY, -Infinity, 1]);
  t.equal(result.seed, null, 'eval mode has no seed');
  const strings = await client.dropout(['NaN', 'Infinity', '-Infinity', 1], { mode: 'eval' });
  t.same(strings.output, result.output);
});

t.test('a 400 is a DropoutServiceError with code P_OUT_OF_RANGE', async (t) => {
  const error = await rejection(client.dropout([1, 2, 3], { p: 1.5 }));
  t.ok(error instanceof DropoutServiceError);
  t.ok(error instanceof Error);
  if (!(error instanceof DropoutServiceError)) return;
  t.equal(error.name, 'DropoutServiceError');
  t.equal(error.status, 400);
  t.equal(error.code, 'P_OUT_OF_RANGE');
  t.equal(error.title, PROBLEMS.P_OUT_OF_RANGE.title);
  t.match(error.detail, /p/);
  t.equal(error.type, 'urn:dropout-service:problem:p-out-of-range');
  t.match(error.message, /^400 P_OUT_OF_RANGE: /);
  t.equal(error.problem?.code, 'P_OUT_OF_RANGE');
  t.equal(error.requestId, undefined, '4xx carry no request id');

  const binary = await rejection(client.dropout(new Float32Array(4), { p: -0.1 }));
  t.match(binary, { status: 400, code: 'P_OUT_OF_RANGE' }, 'the same from the query of a binary call');
  const shape = await rejection(client.dropout([1, 2, 3], { shape: [2, 2] }));
  t.match(shape, { status: 400, code: 'SHAPE_MISMATCH' });
  const ragged = await rejection(client.dropout([[1, 2], [3]]));
  t.match(ragged, { status: 400, code: 'RAGGED_ARRAY' });
});

t.test('415s: an unknown dtype, and a body type the service does not read', async (t) => {
  // @ts-expect-error int8 is not a dtype: the type refuses it, and so does the service.
  const dtype = await rejection(client.dropout([1, 2], { dtype: 'int8' }));
  t.ok(dtype instanceof DropoutServiceError);
  t.match(dtype, { status: 415, code: 'UNSUPPORTED_DTYPE' });

  // A fetch that rewrites the Content-Type shows the fetch option and a 415 UNSUPPORTED_MEDIA_TYPE.
  const textClient = createClient({
    baseUrl: origin,
    fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, 'content-type': 'text/plain' } }),
  });
  const media = await rejection(textClient.dropout([1, 2]));
  t.match(media, { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', title: PROBLEMS.UNSUPPORTED_MEDIA_TYPE.title });
});

t.test('what the client sends: bearer key, path prefix, headers; and replies that are not the API', async (t) => {
  const seen: { url: string; headers: Headers }[] = [];
  const spy = createClient({
    baseUrl: `${origin}/`,
    apiKey: 'k1',
    headers: { 'x-trace': 'abc' },
    fetch: async (input, init) => {
      seen.push({ url: String(input), headers: new Headers(init?.headers) });
      return fetch(input, init);
    },
  });
  await spy.dropout([1, 2], { seed: 1 });
  t.equal(seen[0].url, `${origin}/v1/dropout`);
  t.equal(seen[0].headers.get('authorization'), 'Bearer k1');
  t.equal(seen[0].headers.get('x-trace'), 'abc');
  t.equal(seen[0].headers.get('accept'), 'application/json');

  const prefixed: string[] = [];
  const behindProxy = createClient({
    baseUrl: 'http://127.0.0.1:1/dropout-api',
    fetch: async (input) => {
      prefixed.push(String(input));
      return new Response('<html>502 Bad Gateway</html>', { status: 502, headers: { 'retry-after': '3' } });
    },
  });
  const error = await rejection(behindProxy.dropout(new Float32Array(2), { shape: [2], seed: 5n }));
  t.equal(prefixed[0], 'http://127.0.0.1:1/dropout-api/v1/dropout?shape=2&dtype=float32&seed=5');
  t.match(error, { status: 502, code: 'UNEXPECTED_RESPONSE', retryAfter: 3 });
  t.ok(error instanceof DropoutServiceError);
});

t.test('network errors propagate as they are', async (t) => {
  // A port that was just free: nothing listens there.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  const offline = createClient({ baseUrl: `http://127.0.0.1:${port}` });
  const error = await rejection(offline.dropout([1]));
  t.notOk(error instanceof DropoutServiceError);
  t.ok(error instanceof TypeError, 'fetch failed');

  const aborted = await rejection(client.dropout([1], { signal: AbortSignal.abort() }));
  t.match(aborted, { name: 'AbortError' });
});

t.test('misuse the types forbid is refused at run time too', async (t) => {
  await t.rejects(
    // @ts-expect-error the mask needs a JSON reply
    client.dropout([1, 2], { format: 'binary', returnMask: true }),
    TypeError,
  );
  // @ts-expect-error a Uint16Array needs dtype float16 or bfloat16
  await t.rejects(client.dropout(new Uint16Array(2)), TypeError);
  // @ts-expect-error a Float32Array holds float32
  await t.rejects(client.dropout(new Float32Array(2), { dtype: 'float64' }), TypeError);
});

t.test('the client imports nothing of the server at run time', async (t) => {
  const dir = join(ROOT, 'src/client');
  for (const file of await readdir(dir)) {
    const source = await readFile(join(dir, file), 'utf8');
    for (const [, kind, from] of source.matchAll(/^(?:import|export)\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gm)) {
      if (kind) continue;
      t.ok(from.startsWith('./'), `${file}: a run-time import of ${from} stays in src/client`);
    }
  }
});

/** Type-level checks: never run, but `npm run typecheck` fails if any line below stops being (in)valid. */
export function typeChecks(c: DropoutClient): void {
  type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
  const sameModes: Equal<Mode, ServerMode> = true;
  const sameVariants: Equal<Variant, ServerVariant> = true;
  const sameRngs: Equal<Rng, ServerRng> = true;
  const sameCodes: Equal<DropoutErrorCode, ProblemCode | 'UNEXPECTED_RESPONSE'> = true;
  void [sameModes, sameVariants, sameRngs, sameCodes];

  void (async () => {
    const plain = await c.dropout([[1, 2]]);
    // @ts-expect-error no returnMask: no mask
    const noMask: boolean[][] = plain.mask;
    const nested: number[][] = plain.output;
    // @ts-expect-error a nested input does not give a flat output
    const flat: number[] = plain.output;
    const bin = await c.dropout(new Float64Array(2));
    // @ts-expect-error a Float64Array comes back as a Float64Array
    const wrong: Float32Array = bin.data;
    const half = await c.dropout(new Uint16Array(2), { dtype: 'bfloat16' });
    const bits: Uint16Array = half.data;
    const asF64 = await c.dropout([1], { dtype: 'float64', format: 'binary' });
    const f64: Float64Array = asF64.data;
    const seed: string | null = plain.seed;
    void [noMask, nested, flat, wrong, bits, f64, seed];

    // @ts-expect-error p is a number
    await c.dropout([1], { p: '0.5' });
    // @ts-expect-error no such mode
    await c.dropout([1], { mode: 'training' });
    // @ts-expect-error no such variant
    await c.dropout([1], { variant: 'spatial' });
    // @ts-expect-error options are camelCase: noiseShape
    await c.dropout([1], { noise_shape: [1] });
    // @ts-expect-error no such format
    await c.dropout([1], { format: 'npy' });
    // @ts-expect-error a typed array cannot ask for the mask
    await c.dropout(new Float32Array(1), { format: 'json', returnMask: true });
    // @ts-expect-error a tensor is numbers
    await c.dropout([[true]]);
    // @ts-expect-error seed is a number, bigint or string
    await c.dropout([1], { seed: [42] });
    try {
      await c.dropout([1]);
    } catch (error) {
      if (error instanceof DropoutServiceError) {
        const code: DropoutErrorCode = error.code;
        // @ts-expect-error codes are the service's
        if (error.code === 'P_TOO_BIG') void code;
      }
    }
  })();
}

t.test(
  'a fresh TypeScript project imports dropout-service/client from the built package and calls the service',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'dropout-client-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    // The package as npm would install it: its package.json (with `exports`) and `npm run build`'s dist, built here
    // with the same tsconfig.build.json into the package folder, so the project's own dist is left alone.
    const pkg = join(dir, 'node_modules/dropout-service');
    await mkdir(pkg, { recursive: true });
    await copyFile(join(ROOT, 'package.json'), join(pkg, 'package.json'));
    await run(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')], {
      cwd: ROOT,
    });

    await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2022'],
          strict: true,
          typeRoots: [join(ROOT, 'node_modules/@types')],
          types: ['node'],
          outDir: 'out',
        },
        files: ['main.ts'],
      }),
    );
    await writeFile(
      join(dir, 'main.ts'),
      `import { createClient, DropoutServiceError, type DropoutErrorCode } from 'dropout-service/client';

const client = createClient({ baseUrl: process.env.DROPOUT_URL ?? '' });
const json = await client.dropout([[1, 2, 3], [4, 5, 6]], { p: 0.5, seed: 42, returnMask: true });
const output: number[][] = json.output;
const mask: boolean[][] = json.mask;
const binary = await client.dropout(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3], seed: 42n });
const data: Float32Array = binary.data;
let code: DropoutErrorCode | undefined;
try {
  await client.dropout([1, 2, 3], { p: 2 });
} catch (error) {
  if (error instanceof DropoutServiceError) code = error.code;
}
export function neverCalled(): void {
  // @ts-expect-error p is a number
  void client.dropout([1], { p: 'half' });
}
console.log(JSON.stringify({ output, mask, data: Array.from(data), seed: binary.seed, code }));
`,
    );
    await run(process.execPath, [tsc, '-p', dir], { cwd: dir });
    const { stdout } = await run(process.execPath, [join(dir, 'out/main.js')], {
      cwd: dir,
      env: { ...process.env, DROPOUT_URL: origin },
    });
    t.same(JSON.parse(stdout), {
      output: [
        [0, 4, 6],
        [8, 0, 12],
      ],
      mask: [
        [false, true, true],
        [true, false, true],
      ],
      data: [0, 4, 6, 8, 0, 12],
      seed: '42',
      code: 'P_OUT_OF_RANGE',
    });
  },
);
