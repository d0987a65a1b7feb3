/**
 * The container image itself: built by buildah from the unchanged Dockerfile and .dockerignore, run by podman.
 * scripts/test-container.sh (`npm run test:container`, as root) makes a stand-in for the Dockerfile's base image
 * (scripts/container-base.sh tells what it holds), builds the image and names it in DROPOUT_TEST_IMAGE; this file
 * checks it:
 * - its config: uid 1000, ENV (GLIBC_TUNABLES as `npm start` sets it), EXPOSE, HEALTHCHECK, STOPSIGNAL, CMD;
 * - its files: /app holds dist/ (every compiled module and WebAssembly file the code loads), the manifests and the
 *   production dependencies, nothing else, all root-owned; no dev dependency, no npm cache;
 * - a container of it, run as deploy/k8s runs it (read-only root, a writable /tmp, no capabilities): node is PID 1 as
 *   uid 1000 with the image's ENV, /healthz, the HEALTHCHECK, /readyz, dropout replies exact against test/reference.ts
 *   (one computed by the worker pool), then `podman stop` (SIGTERM) with uploads in flight: readiness turns 503, a
 *   request arriving while draining is served, the uploads complete with exact bytes, exit code 0 within the bound.
 * It sends requests to 127.0.0.1 only: the container shares the host's network and listens there, on a free port.
 */
import { spawn } from 'node:child_process';
import { lstat, readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { SHUTDOWN_GRACE_MS } from '../../src/shutdown-signals.js';
import { genInput, referenceDropout } from '../reference.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const IMAGE = process.env.DROPOUT_TEST_IMAGE ?? '';
if (IMAGE === '')
  throw new Error('DROPOUT_TEST_IMAGE is not set: run this test as root through `npm run test:container`');

/**
 * runc, not crun: crun fails on some kernels' cgroup setups where runc works, and CI installs runc. cgroupfs, not
 * systemd: a CI machine need not run systemd.
 */
const PODMAN_GLOBAL = ['--runtime', 'runc', '--cgroup-manager', 'cgroupfs'];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], timeoutMs = 60_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const podman = (args: string[], timeoutMs?: number) => run('podman', [...PODMAN_GLOBAL, ...args], timeoutMs);

/** podman's output when it exited 0; its stderr in the error otherwise. */
async function podmanOk(args: string[], timeoutMs?: number): Promise<string> {
  const result = await podman(args, timeoutMs);
  if (result.code !== 0) throw new Error(`podman ${args.join(' ')} exited ${result.code}:\n${result.stderr}`);
  return result.stdout;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function* walk(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    yield path;
    if (entry.isDirectory()) yield* walk(path);
  }
}

/** The source files the build compiles, relative to src/ (the .as.ts kernels are compiled into committed .wasm). */
async function sourceFiles(): Promise<string[]> {
  const files: string[] = [];
  for await (const path of walk(join(REPO, 'src'))) files.push(relative(join(REPO, 'src'), path));
  return files.sort();
}

interface ImageInspect {
  Config: {
    User?: string;
    Env?: string[];
    ExposedPorts?: Record<string, unknown>;
    Entrypoint?: string[];
    Cmd?: string[];
    WorkingDir?: string;
    StopSignal?: string;
  };
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; Retries?: number };
}

const envMap = (pairs: string[]): Map<string, string> =>
  new Map(pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));

const packageJson = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  scripts: Record<string, string>;
};
/** The allocator setting `npm start` runs the service with, which the image's ENV must repeat. */
const GLIBC_TUNABLES = /GLIBC_TUNABLES=(\S+)/.exec(packageJson.scripts.start)?.[1];
const inspect = (JSON.parse(await podmanOk(['image', 'inspect', IMAGE])) as ImageInspect[])[0];
const imageEnv = envMap(inspect.Config.Env ?? []);
const IMAGE_PORT = imageEnv.get('PORT') ?? '';
const IMAGE_GRPC_PORT = imageEnv.get('GRPC_PORT') ?? '';

t.test('the image config: uid 1000, ENV, EXPOSE, HEALTHCHECK, STOPSIGNAL and CMD', async (t) => {
  const { Config: config, Healthcheck: health } = inspect;
  t.equal(config.User, '1000:1000', "USER is the node user's uid and gid, numerically (runAsNonRoot can verify it)");
  t.equal(imageEnv.get('NODE_ENV'), 'production');
  t.equal(imageEnv.get('HOST'), '0.0.0.0', 'listens on every interface of the container');
  t.match(IMAGE_PORT, /^\d+$/, 'PORT is set');
  t.ok(GLIBC_TUNABLES, 'package.json start script sets GLIBC_TUNABLES');
  t.equal(imageEnv.get('GLIBC_TUNABLES'), GLIBC_TUNABLES, 'GLIBC_TUNABLES as `npm start` sets it');
  t.match(IMAGE_GRPC_PORT, /^\d+$/, 'GRPC_PORT is set');
  t.same(
    Object.keys(config.ExposedPorts ?? {}).sort(),
    [`${IMAGE_PORT}/tcp`, `${IMAGE_GRPC_PORT}/tcp`].sort(),
    'EXPOSE is PORT and GRPC_PORT',
  );
  t.equal(health?.Test?.[0], 'CMD', 'HEALTHCHECK runs a command without a shell');
  t.match(health?.Test?.join(' ') ?? '', /\/healthz/, 'HEALTHCHECK asks /healthz');
  t.ok(
    (health?.Timeout ?? 0) > 0 && (health?.Timeout ?? 0) <= (health?.Interval ?? 0),
    'its timeout fits its interval',
  );
  t.equal(config.StopSignal, 'SIGTERM', 'STOPSIGNAL is the signal the graceful shutdown handles');
  t.equal(config.WorkingDir, '/app');
  t.same(config.Entrypoint, ['docker-entrypoint.sh'], "the node image's entrypoint, which execs the CMD");
  t.same(config.Cmd, ['node', 'dist/server.js'], 'CMD starts node itself, in exec form');
});

t.test('the image files: dist, the manifests and production dependencies only, root-owned', async (t) => {
  const root = (await podmanOk(['image', 'mount', IMAGE])).trim();
  t.teardown(() => podman(['image', 'unmount', IMAGE]));
  const app = join(root, 'app');

  t.same(
    (await readdir(app)).sort(),
    ['dist', 'node_modules', 'package-lock.json', 'package.json'],
    '/app holds the build output, the manifests and node_modules, nothing else from the context',
  );
  for (const file of ['package.json', 'package-lock.json'])
    t.equal(await readFile(join(app, file), 'utf8'), await readFile(join(REPO, file), 'utf8'), `${file} as committed`);

  const missing: string[] = [];
  const differing: string[] = [];
  for (const file of await sourceFiles()) {
    if (file.endsWith('.as.ts')) continue;
    if (file.endsWith('.ts')) {
      const compiled = join(app, 'dist', file.replace(/\.ts$/, '.js'));
      if (!(await lstat(compiled).catch(() => null))) missing.push(relative(root, compiled));
    } else if (file.endsWith('.wasm') || file.endsWith('.proto')) {
      const copied = await readFile(join(app, 'dist', file)).catch(() => null);
      if (!copied) missing.push(`app/dist/${file}`);
      else if (!copied.equals(await readFile(join(REPO, 'src', file)))) differing.push(`app/dist/${file}`);
    }
  }
  t.same(missing, [], 'every module of src/ is compiled into dist/, every .wasm and .proto copied');
  t.same(differing, [], 'the .wasm and .proto files are the committed ones');

  // What the code loads relative to itself, e.g. the WebAssembly kernels, which it would otherwise silently replace by
  // its slower JavaScript fallback.
  const unresolved: string[] = [];
  for await (const path of walk(join(app, 'dist'))) {
    if (!path.endsWith('.js')) continue;
    const code = await readFile(path, 'utf8');
    for (const m of code.matchAll(/new URL\(\s*(['"`])(\.\.?\/[^'"`$]+)\1\s*,\s*import\.meta\.url\s*\)/g))
      if (!(await lstat(join(path, '..', m[2])).catch(() => null))) unresolved.push(`${relative(root, path)}: ${m[2]}`);
  }
  t.same(unresolved, [], 'every file dist/ loads with new URL(…, import.meta.url) is in the image');

  const lock = JSON.parse(await readFile(join(app, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }>;
  };
  const present = async (path: string) => (await lstat(join(app, path)).catch(() => null)) !== null;
  const devInstalled: string[] = [];
  const prodMissing: string[] = [];
  for (const [path, meta] of Object.entries(lock.packages)) {
    if (path === '') continue;
    if (meta.dev && (await present(path))) devInstalled.push(path);
    if (!meta.dev && !meta.optional && !meta.devOptional && !(await present(path))) prodMissing.push(path);
  }
  t.same(devInstalled, [], 'no package the lockfile marks dev-only is installed');
  t.same(prodMissing, [], 'every production package of the lockfile is installed');
  for (const name of Object.keys(packageJson.dependencies))
    t.ok(await present(`node_modules/${name}/package.json`), `dependency ${name} is installed`);

  const writable: string[] = [];
  let files = 0;
  for await (const path of walk(app)) {
    const info = await lstat(path);
    files++;
    if (info.uid !== 0 || info.gid !== 0 || (!info.isSymbolicLink() && (info.mode & 0o002) !== 0))
      writable.push(`${relative(root, path)} (${info.uid}:${info.gid} ${(info.mode & 0o7777).toString(8)})`);
  }
  t.same(writable.slice(0, 10), [], `all ${files} entries of /app are root's and not world-writable`);
  t.notOk(await lstat(join(root, 'root/.npm/_cacache')).catch(() => null), "npm's download cache is not in the image");
  t.notOk(await lstat(join(root, 'node_modules')).catch(() => null), 'no /node_modules for Node to resolve from');
});

/** A POST of raw float32 values whose body is sent in pieces by the caller; resolves with the reply. */
function upload(origin: string, query: string, length: number) {
  const request = http.request(`${origin}/v1/dropout?${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'content-length': length },
  });
  const reply = new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
    request.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    request.on('error', reject);
  });
  return { request, reply };
}

const bytesOf = (values: Float32Array) => Buffer.from(values.buffer, values.byteOffset, values.byteLength);

t.test('a container serves as uid 1000 with node as PID 1, then stops on SIGTERM with exit code 0', async (t) => {
  const port = await freePort();
  const grpcPort = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const name = `dropout-service-test-${process.pid}-${Date.now()}`;
  t.teardown(() => podman(['rm', '--force', '--time', '0', name]));
  // The host's network, so that the service is reached on 127.0.0.1 and nothing else: HOST and PORT are overridden
  // for that, and GRPC_PORT (the image's own values are checked above). The ulimits are within this machine's hard limits, which
  // podman's defaults exceed. Read-only root, writable /tmp, no capabilities: deploy/k8s's securityContext.
  await podmanOk([
    'run',
    '--detach',
    '--name',
    name,
    '--network',
    'host',
    '--env',
    'HOST=127.0.0.1',
    '--env',
    `PORT=${port}`,
    '--env',
    `GRPC_PORT=${grpcPort}`,
    '--ulimit',
    'nofile=4096:4096',
    '--ulimit',
    'nproc=4096:4096',
    '--read-only',
    '--read-only-tmpfs=false',
    '--tmpfs',
    '/tmp',
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    IMAGE,
  ]);
  const logs = async () => {
    const { stdout, stderr } = await podman(['logs', name]);
    return `${stdout}${stderr}`.slice(-4000);
  };

  const startDeadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`${origin}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    const state = (await podmanOk(['inspect', '--format', '{{.State.Status}}', name])).trim();
    if (state !== 'running') throw new Error(`the container is ${state} before /healthz answered:\n${await logs()}`);
    if (Date.now() > startDeadline) throw new Error(`/healthz did not answer within 60 s:\n${await logs()}`);
    await sleep(200);
  }
  t.pass('/healthz answers');

  const cmdline = await podmanOk(['exec', name, 'cat', '/proc/1/cmdline']);
  t.same(cmdline.split('\0').filter(Boolean), ['node', 'dist/server.js'], 'PID 1 is node dist/server.js');
  const status = await podmanOk(['exec', name, 'cat', '/proc/1/status']);
  t.match(status, /^Uid:\s+1000\s+1000\s+1000\s+1000$/m, 'PID 1 runs as uid 1000 (real, effective, saved)');
  t.match(status, /^Gid:\s+1000\s+1000\s+1000\s+1000$/m, 'and gid 1000');
  t.equal((await podmanOk(['exec', name, 'id', '-u'])).trim(), '1000', '`id -u` in the container is 1000');
  const environ = envMap((await podmanOk(['exec', name, 'cat', '/proc/1/environ'])).split('\0').filter(Boolean));
  t.equal(environ.get('GLIBC_TUNABLES'), GLIBC_TUNABLES, 'PID 1 has GLIBC_TUNABLES');
  t.equal(environ.get('NODE_ENV'), 'production', 'and NODE_ENV=production');
  const major = /^FROM node:(\d+)-/m.exec(await readFile(join(REPO, 'Dockerfile'), 'utf8'))?.[1];
  t.match((await podmanOk(['exec', name, 'node', '--version'])).trim(), `v${major}.`, "the FROM's Node line");

  const health = await podman(['healthcheck', 'run', name]);
  t.equal(health.code, 0, "the image's HEALTHCHECK passes (podman healthcheck run)", { output: health });
  const healthState = await podmanOk(['inspect', '--format', '{{.State.Health.Status}}', name]);
  t.equal(healthState.trim(), 'healthy', 'podman records the container as healthy');
  t.equal((await fetch(`${origin}/readyz`)).status, 200, '/readyz is 200');
  t.match(
    await logs(),
    new RegExp(`gRPC listening at 127\\.0\\.0\\.1:${grpcPort}`),
    'gRPC serves too: its protos are in the image',
  );

  const small = await fetch(`${origin}/v1/dropout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      input: [
        [1, 2],
        [3, 4],
      ],
      p: 0.5,
      seed: 1,
    }),
  });
  t.equal(small.status, 200, 'a JSON dropout call answers 200');
  const smallBody = (await small.json()) as { output: number[][] };
  const smallExpected = referenceDropout(Float32Array.from([1, 2, 3, 4]), 0.5, 1n);
  t.match(
    smallBody,
    { shape: [2, 2], dtype: 'float32', p: 0.5, seed: '1', offset: 0, kept: smallExpected.kept },
    'with the settings echoed and the expected kept count',
  );
  t.same(smallBody.output.flat(), [...smallExpected.out], 'with the exact output');

  // Past INLINE_MAX_ELEMENTS, so the worker pool computes it: its threads load dist/offload and the WebAssembly kernel.
  const n = loadConfig({}).inlineMaxElements + 4096;
  const input = Float32Array.from(genInput(n));
  const body = bytesOf(input);
  const large = await fetch(`${origin}/v1/dropout?p=0.25&seed=12345678901234567890`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body,
  });
  const largeExpected = referenceDropout(input, 0.25, 12345678901234567890n);
  t.equal(large.status, 200, `a ${n}-element binary call (the pool's) answers 200`);
  t.equal(large.headers.get('dropout-kept'), String(largeExpected.kept), 'with the expected Dropout-Kept');
  t.ok(Buffer.from(await large.arrayBuffer()).equals(bytesOf(largeExpected.out as Float32Array)), 'and exact bytes');

  // Uploads in flight when SIGTERM arrives: headers and part of the body now, a few bytes every 200 ms (the service
  // drops an upload silent for 2 s once stopping), the rest once readiness shows the signal was handled.
  // The expected replies first: the reference takes seconds, which must not be spent while the service drains.
  const inFlight = [3, 4].map((seed) => ({
    seed,
    expected: bytesOf(referenceDropout(input, 0.5, BigInt(seed)).out as Float32Array),
    sent: body.length / 2,
    ...upload(origin, `p=0.5&seed=${seed}`, body.length),
  }));
  const lateInput = Float32Array.from(genInput(64));
  const lateExpected = bytesOf(referenceDropout(lateInput, 0.5, 9n).out as Float32Array);
  for (const f of inFlight) f.request.write(body.subarray(0, f.sent));
  const trickle = setInterval(() => {
    for (const f of inFlight) {
      if (f.sent + 16 >= body.length) continue;
      f.request.write(body.subarray(f.sent, f.sent + 16));
      f.sent += 16;
    }
  }, 200);
  t.teardown(() => clearInterval(trickle));
  await sleep(300);

  const stopTimeoutS = Math.ceil(SHUTDOWN_GRACE_MS / 1000) + 5;
  const stopping = podman(['stop', '--time', String(stopTimeoutS), name], (stopTimeoutS + 30) * 1000);
  const signalDeadline = Date.now() + 10_000;
  let ready = 200;
  while (ready === 200 && Date.now() < signalDeadline) {
    ready = (await fetch(`${origin}/readyz`)).status;
    if (ready === 200) await sleep(20);
  }
  const signalled = Date.now();
  clearInterval(trickle);
  t.equal(ready, 503, 'after podman stop, /readyz turns 503: node, PID 1, handled SIGTERM');

  const late = await fetch(`${origin}/v1/dropout?p=0.5&seed=9`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: bytesOf(lateInput),
  });
  t.equal(late.status, 200, 'a request arriving while draining is served');
  t.ok(Buffer.from(await late.arrayBuffer()).equals(lateExpected), 'with exact bytes');
  for (const f of inFlight) f.request.end(body.subarray(f.sent));
  for (const f of inFlight) {
    const reply = await f.reply;
    t.equal(reply.status, 200, `the upload in flight with seed ${f.seed} completes`);
    t.ok(reply.body.equals(f.expected), 'with exact bytes');
  }

  const stop = await stopping;
  const tookMs = Date.now() - signalled;
  t.equal(stop.code, 0, 'podman stop exits 0', { output: stop });
  const exitCode = await podmanOk(['inspect', '--format', '{{.State.ExitCode}}', name]);
  t.equal(exitCode.trim(), '0', 'the container exited with code 0 (not killed after the stop timeout)');
  t.ok(tookMs <= SHUTDOWN_GRACE_MS, `stopped ${tookMs} ms after the signal, within ${SHUTDOWN_GRACE_MS} ms`);
  t.match(await logs(), /"signal":"SIGTERM"/, 'the service logged the SIGTERM shutdown');
  await t.rejects(fetch(`${origin}/healthz`), 'nothing listens on the port any more');
});
