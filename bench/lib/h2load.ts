/**
 * gRPC ModelInfer against the same tensors over binary HTTP (/v2 with Triton's binary tensor extension), in the same
 * run, with the same load generator for both: h2load (nghttp2), a single-threaded C client that speaks HTTP/2 (so
 * gRPC, whose requests are HTTP/2 POSTs of a framed protobuf message) and HTTP/1.1 (--h1). It sends one prebuilt
 * body over and over and reads replies without parsing them, so its cost per request is a few system calls and a
 * memcpy, far below the service's; and the same generator on both sides means neither side is measured through a
 * cheaper client. Each side's replies are checked once before the load (status, output size).
 *
 * gRPC replies always carry status 200 on HTTP/2; the gRPC status is in the trailers, which h2load does not read. So
 * every gRPC run is followed by the service's own count of the calls by status (/metrics): calls that ended other
 * than OK (or CANCELLED, the ones in flight when h2load stops) are reported as failures.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, credentials, Metadata, makeGenericClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { float32Body } from './bodies.js';
import { ROOT } from './paths.js';
import { runCommand } from './processes.js';

const PROTOS = join(ROOT, '..', 'shared', 'clients', 'protos');

export interface H2loadResult {
  rps: number;
  meanMs: number;
  maxMs: number;
  succeeded: number;
  failed: number;
}

export interface GrpcBench {
  /** Measures one side: h2load for `seconds` after `warmupSeconds`, `connections` connections, one stream each. */
  run(
    side: 'grpc' | 'http',
    elements: number,
    spec: { connections: number; seconds: number; warmupSeconds: number },
  ): Promise<H2loadResult>;
  close(): Promise<void>;
}

/** Whether h2load runs (its --version exits 0). */
async function hasH2load(): Promise<boolean> {
  const { code } = await runCommand('h2load', ['--version'], { timeoutMs: 10_000 }).catch(() => ({ code: 1 }));
  return code === 0;
}

/** h2load, installed from Debian's nghttp2-client when missing (as root, or through sudo without a password). */
export async function ensureH2load(): Promise<boolean> {
  if (await hasH2load()) return true;
  const asRoot = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const [command, ...args] = [...asRoot, 'apt-get', 'install', '-y', '--no-install-recommends', 'nghttp2-client'];
  await runCommand(command, args, { timeoutMs: 300_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return hasH2load();
}

/** The ModelInferRequest of `elements` float32 values (p 0.5, seed 1, output only), serialized by Triton's proto. */
function inferRequest(elements: number): Buffer {
  const definition = loadSync(join(PROTOS, 'grpc_service.proto'), {
    keepCase: true,
    longs: String,
    includeDirs: [PROTOS],
  });
  const method = (
    definition['inference.GRPCInferenceService'] as Record<string, { requestSerialize(value: object): Buffer }>
  ).ModelInfer;
  return method.requestSerialize({
    model_name: 'dropout',
    inputs: [{ name: 'input', datatype: 'FP32', shape: [String(elements)] }],
    outputs: [{ name: 'output' }],
    parameters: { p: { double_param: 0.5 }, seed: { int64_param: '1' } },
    raw_input_contents: [float32Body(elements)],
  });
}

/** The same request as /v2 binary: its JSON header, then the tensor's bytes. */
function v2Body(elements: number): { body: Buffer; headerLength: number } {
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name: 'input', shape: [elements], datatype: 'FP32', parameters: { binary_data_size: elements * 4 } }],
      outputs: [{ name: 'output', parameters: { binary_data: true } }],
      parameters: { p: 0.5, seed: 1 },
    }),
  );
  return { body: Buffer.concat([header, float32Body(elements)]), headerLength: header.length };
}

function parseH2load(text: string): H2loadResult {
  const rps = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(text);
  const requests = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed/.exec(text);
  const time = /time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(text);
  if (!rps || !requests || !time) throw new Error(`h2load's output was not understood:\n${text.slice(-1500)}`);
  const ms = (value: string, unit: string) => Number(value) * (unit === 'us' ? 1e-3 : unit === 's' ? 1e3 : 1);
  return {
    rps: Number(rps[1]),
    meanMs: ms(time[5], time[6]),
    maxMs: ms(time[3], time[4]),
    succeeded: Number(requests[1]),
    failed: Number(requests[2]),
  };
}

/** The service's count of ModelInfer calls by gRPC status, from /metrics. */
async function grpcCounts(httpUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(
    /^grpc_server_handled_total\{[^}]*grpc_method="ModelInfer",grpc_code="(\w+)"\} (\d+)/gm,
  ))
    counts[match[1]] = Number(match[2]);
  return counts;
}

/** One ModelInfer through @grpc/grpc-js, to check the service answers the benchmark's request before the load. */
async function checkGrpc(target: string, body: Buffer, elements: number): Promise<void> {
  const Ctor = makeGenericClientConstructor(
    {
      ModelInfer: {
        path: '/inference.GRPCInferenceService/ModelInfer',
        requestStream: false,
        responseStream: false,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    },
    'bench',
  );
  const client = new Ctor(target, credentials.createInsecure(), {
    'grpc.max_receive_message_length': -1,
  }) as unknown as Client & {
    ModelInfer(body: Buffer, metadata: Metadata, callback: (error: ServiceError | null, reply: Buffer) => void): void;
  };
  try {
    const reply = await new Promise<Buffer>((resolve, reject) =>
      client.ModelInfer(body, new Metadata(), (error, value) => (error ? reject(error) : resolve(value))),
    );
    if (reply.length < elements * 4)
      throw new Error(`the gRPC reply is ${reply.length} bytes, too short for ${elements} float32`);
  } finally {
    client.close();
  }
}

/**
 * Prepares the bodies of both sides for each size (written to a temporary folder h2load reads them from) and checks
 * one reply of each.
 */
export async function grpcBench(httpUrl: string, grpcTarget: string, sizes: number[]): Promise<GrpcBench> {
  if (!(await hasH2load())) throw new Error('h2load is not installed (Debian: nghttp2-client)');
  const dir = await mkdtemp(join(tmpdir(), 'grpc-bench-'));
  const files = new Map<string, { path: string; headers: string[]; url: string }>();
  for (const elements of sizes) {
    const message = inferRequest(elements);
    const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), message]);
    framed.writeUInt32BE(message.length, 1);
    await checkGrpc(grpcTarget, message, elements);
    const grpcPath = join(dir, `grpc-${elements}.bin`);
    await writeFile(grpcPath, framed);
    files.set(`grpc ${elements}`, {
      path: grpcPath,
      headers: ['content-type: application/grpc', 'te: trailers'],
      url: `http://${grpcTarget}/inference.GRPCInferenceService/ModelInfer`,
    });
    const { body, headerLength } = v2Body(elements);
    const reply = await fetch(`${httpUrl}/v2/models/dropout/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength) },
      body,
    });
    const bytes = Buffer.from(await reply.arrayBuffer());
    if (reply.status !== 200 || bytes.length < elements * 4)
      throw new Error(
        `/v2 binary: status ${reply.status}, ${bytes.length} bytes: ${bytes.subarray(0, 200).toString()}`,
      );
    const httpPath = join(dir, `http-${elements}.bin`);
    await writeFile(httpPath, body);
    files.set(`http ${elements}`, {
      path: httpPath,
      headers: ['content-type: application/octet-stream', `inference-header-content-length: ${headerLength}`],
      url: `${httpUrl}/v2/models/dropout/infer`,
    });
  }
  return {
    async run(side, elements, { connections, seconds, warmupSeconds }) {
      const file = files.get(`${side} ${elements}`);
      if (!file) throw new Error(`no body for ${side} ${elements}`);
      const before = side === 'grpc' ? await grpcCounts(httpUrl) : {};
      const args = [
        ...(side === 'http' ? ['--h1'] : []),
        '-t1',
        `-c${connections}`,
        '-m1',
        // Whole milliseconds: h2load reads durations as integers with a unit.
        `--duration=${Math.round(seconds * 1000)}ms`,
        `--warm-up-time=${Math.round(warmupSeconds * 1000)}ms`,
        '-d',
        file.path,
        ...file.headers.flatMap((h) => ['-H', h]),
        // HTTP/2 flow-control windows of 16 MiB (2^24), so a 4 MB message is not sent in 64 KiB steps.
        ...(side === 'grpc' ? ['-w24', '-W24'] : []),
        file.url,
      ];
      const { code, stdout, stderr } = await runCommand('h2load', args, {
        timeoutMs: (seconds + warmupSeconds + 60) * 1000,
      });
      if (code !== 0) throw new Error(`h2load exited ${code}: ${stderr.slice(-500)}`);
      const result = parseH2load(stdout);
      if (side === 'grpc') {
        const after = await grpcCounts(httpUrl);
        // CANCELLED: the calls in flight when h2load's time is up and it closes its connections.
        const notOk = Object.entries(after)
          .filter(([status]) => status !== 'OK' && status !== 'CANCELLED')
          .map(([status, n]) => [status, n - (before[status] ?? 0)] as const)
          .filter(([, n]) => n > 0);
        if (notOk.length > 0) result.failed += notOk.reduce((sum, [, n]) => sum + n, 0);
      }
      return result;
    },
    async close() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
