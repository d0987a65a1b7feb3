/**
 * Configuration: read from the environment once, validated, and passed to buildApp as data.
 * One TypeBox schema names every setting, its default, its bounds and its meaning.
 */
import { availableParallelism } from 'node:os';
import { Ajv } from 'ajv';
import { type Static, Type } from 'typebox';
import { defaultMaxConnections, memoryLimitBytes } from './system-limits.js';

const MiB = 1024 * 1024;

export const EnvSchema = Type.Object({
  HOST: Type.String({
    minLength: 1,
    default: '127.0.0.1',
    description: 'Address to listen on (0.0.0.0 in the container).',
  }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000, description: 'TCP port.' }),
  GRPC_PORT: Type.String({
    pattern: '^(off|0*([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))$',
    default: '8001',
    must: 'be a port (0 to 65535) or off',
    description:
      'TCP port of the Open Inference Protocol over gRPC, on HOST (8001, as Triton; 0: a free port; off: no gRPC).',
  }),
  WORKERS: Type.Integer({
    minimum: 1,
    maximum: 256,
    default: availableParallelism(),
    description: 'Worker threads in the dropout pool (default: available parallelism).',
  }),
  MAX_BODY_BYTES: Type.Integer({
    minimum: 1024,
    default: 256 * MiB,
    description: 'Largest request body accepted, in bytes (413 past it).',
  }),
  MAX_ELEMENTS: Type.Integer({
    minimum: 1,
    default: 16 * MiB,
    description: 'Largest tensor accepted, in elements (413 past it).',
  }),
  INLINE_MAX_ELEMENTS: Type.Integer({
    minimum: 0,
    default: 262144,
    description:
      'Tensors up to this many elements are computed on the main thread: below it the worker hop costs more than the work (about 0.5 ms of SIMD kernel; measured on 2 cores, 64K-element requests ran 1.45x faster inline).',
  }),
  INLINE_MAX_JSON_BYTES: Type.Integer({
    minimum: 0,
    default: 128 * 1024,
    description: 'JSON bodies up to this size are parsed on the main thread; larger ones on a worker.',
  }),
  CHUNK_ELEMENTS: Type.Integer({
    minimum: 64,
    default: MiB,
    description:
      'Elements per block of a large tensor: the pool workers claim blocks one at a time until none is left, and an abandoned request stops after the blocks in progress.',
  }),
  WORKER_NICE: Type.Integer({
    minimum: 0,
    maximum: 19,
    default: 10,
    description:
      'Niceness of the pool threads (Linux): the event loop keeps priority, so small requests stay fast under heavy load.',
  }),
  HEAP_GROWING_PERCENT: Type.Integer({
    minimum: 0,
    maximum: 1000,
    default: 300,
    description:
      "V8's old-generation growing factor, as 1 + this/100 (0: V8's own, dynamic). Large bodies pass through the HTTP parser as ~64 MiB of short-lived Buffers per 64 MiB request, which V8 counts towards a full collection; with its dynamic factor (often ~2x here) that started one per large request, pausing small requests for 10-20 ms. On V8 13.6+ (Node 24, 26) it also puts that external memory under the same limit (--external-memory-accounted-in-global-limit) instead of a fixed 64 MB.",
  }),
  MAX_INFLIGHT_BYTES: Type.Integer({
    minimum: 1024,
    default: Math.floor(memoryLimitBytes() * 0.4),
    description:
      'Most request-body bytes held at once, over all requests (declared Content-Length, or bytes read so far for chunked and compressed bodies); past it new requests get 503 OVERLOADED with Retry-After. Default: 40 % of the memory the process may use (the cgroup limit in a container, else physical memory); each request holds about 1.2x its body at its peak. Also caps MAX_BODY_BYTES.',
  }),
  MAX_CONNECTIONS: Type.Integer({
    minimum: 0,
    default: 0,
    description:
      'Most open client connections; further ones are closed on arrival. 0: derived from the open-file limit (ulimit -n), less what the process has open at start, what its pool threads need and a tenth of the limit, so descriptors never run out.',
  }),
  BODY_IDLE_TIMEOUT_MS: Type.Integer({
    minimum: 0,
    default: 5000,
    description:
      'Longest silence between two pieces of a request body before the request fails with 408 and its connection is closed (0: only REQUEST_TIMEOUT_MS bounds an upload).',
  }),
  SHUTDOWN_DRAIN_MS: Type.Integer({
    minimum: 0,
    default: 2000,
    description:
      'On SIGTERM or SIGINT, how long the service keeps serving new requests while /readyz reports not ready (so load balancers move away), before it stops accepting and finishes what is in flight.',
  }),
  MAX_QUEUE: Type.Integer({
    minimum: 1,
    default: 256,
    description:
      'Most computations in flight (the queue in front of the pool), counted from when a request body is complete; past it new ones get 503 OVERLOADED with Retry-After.',
  }),
  REQUEST_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 30_000,
    description: 'Deadline of one request, upload included (504 DEADLINE_EXCEEDED; queued work for it is dropped).',
  }),
  MAX_EVENT_LOOP_DELAY_MS: Type.Integer({
    minimum: 0,
    default: 1000,
    description: 'Event-loop delay past which new requests get 503 OVERLOADED and /readyz reports not ready (0: off).',
  }),
  API_KEYS: Type.String({
    default: '',
    description: 'Comma-separated bearer tokens; unset: no authentication. Health and readiness never need one.',
  }),
  RATE_LIMIT_PER_MINUTE: Type.Integer({
    minimum: 0,
    default: 0,
    description: 'Requests per minute per API key (else per client IP); 0: no limit.',
  }),
  CORS_ORIGIN: Type.String({
    default: '',
    description: 'Allowed browser origins: * or a comma-separated list; unset: no CORS headers.',
  }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    default: 'info',
    description: 'pino log level.',
  }),
});

export type Env = Static<typeof EnvSchema>;

export interface Config {
  host: string;
  port: number;
  /** null: gRPC is off. */
  grpcPort: number | null;
  workers: number;
  maxBodyBytes: number;
  maxElements: number;
  inlineMaxElements: number;
  inlineMaxJsonBytes: number;
  chunkElements: number;
  workerNice: number;
  heapGrowingPercent: number;
  maxInflightBytes: number;
  maxConnections: number;
  bodyIdleTimeoutMs: number;
  shutdownDrainMs: number;
  maxQueue: number;
  requestTimeoutMs: number;
  maxEventLoopDelayMs: number;
  apiKeys: string[];
  rateLimitPerMinute: number;
  corsOrigin: string[];
  logLevel: Env['LOG_LEVEL'];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function list(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

// Read by the Ajv that validates requests, converting text and filling defaults in place, rather than by TypeBox's
// Value module, which is ~130 ms of every start to import.
const validateEnv = new Ajv({
  coerceTypes: true,
  useDefaults: true,
  allErrors: true,
  strict: false,
  validateSchema: false,
}).compile(EnvSchema);

/** Reads and validates the settings; throws ConfigError naming every bad variable and what it must be. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const raw: Record<string, string> = {};
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') raw[key] = value.trim();
  }
  // Conversion works in place: it gets a copy, so that messages quote what was actually set.
  const parsed: Record<string, unknown> = { ...raw };
  validateEnv(parsed);
  const problems = new Map<string, string>();
  for (const error of validateEnv.errors ?? []) {
    const key = error.instancePath.slice(1);
    if (problems.has(key)) continue;
    const schema = EnvSchema.properties[key as keyof Env] as { enum?: string[]; must?: string } | undefined;
    const must =
      schema?.must ??
      (schema?.enum ? `be one of ${schema.enum.join(', ')}` : (error.message ?? 'be valid').replace(/^must /, ''));
    problems.set(key, `${key} must ${must} (got ${JSON.stringify(raw[key])})`);
  }
  if (problems.size > 0) throw new ConfigError(`Invalid configuration: ${[...problems.values()].join('; ')}`);
  const e = parsed as unknown as Env;
  return {
    host: e.HOST,
    port: e.PORT,
    grpcPort: e.GRPC_PORT === 'off' ? null : Number(e.GRPC_PORT),
    workers: e.WORKERS,
    // One body can never hold more than the whole budget.
    maxBodyBytes: Math.min(e.MAX_BODY_BYTES, e.MAX_INFLIGHT_BYTES),
    maxElements: e.MAX_ELEMENTS,
    inlineMaxElements: e.INLINE_MAX_ELEMENTS,
    inlineMaxJsonBytes: e.INLINE_MAX_JSON_BYTES,
    chunkElements: e.CHUNK_ELEMENTS,
    workerNice: e.WORKER_NICE,
    heapGrowingPercent: e.HEAP_GROWING_PERCENT,
    maxInflightBytes: e.MAX_INFLIGHT_BYTES,
    maxConnections: e.MAX_CONNECTIONS > 0 ? e.MAX_CONNECTIONS : defaultMaxConnections(e.WORKERS),
    bodyIdleTimeoutMs: e.BODY_IDLE_TIMEOUT_MS,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    maxQueue: e.MAX_QUEUE,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    maxEventLoopDelayMs: e.MAX_EVENT_LOOP_DELAY_MS,
    apiKeys: list(e.API_KEYS),
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    corsOrigin: list(e.CORS_ORIGIN),
    logLevel: e.LOG_LEVEL,
  };
}
