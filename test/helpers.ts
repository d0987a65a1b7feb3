/** Paths, the test app and request helpers shared by the tests. */
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Test } from 'tap';
import { buildApp, type Runtime } from '../src/app.js';
import { type Config, loadConfig } from '../src/config.js';

/** The shared/ folder beside the project: the Philox known answers and PyTorch's reference vectors. */
export const SHARED_DIR = fileURLToPath(new URL('../../shared/', import.meta.url));

/**
 * The production configuration as the environment would give it, quiet, with test-sized overrides. Shedding on
 * event-loop delay is off unless a test turns it on: on a busy machine (or after a test's own 64 MiB request) the
 * loop's delay says how loaded the machine is, not whether the behaviour under test is right.
 */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ LOG_LEVEL: 'silent', WORKERS: '2', MAX_EVENT_LOOP_DELAY_MS: '0', ...env });
}

/** Builds the app with the production factory and closes it when the test ends. */
export async function startApp(
  t: Test,
  env: Record<string, string> = {},
  runtime: Runtime = {},
): Promise<FastifyInstance> {
  const app = await buildApp(testConfig(env), runtime);
  t.teardown(() => app.close());
  return app;
}

export function f32Bytes(values: ArrayLike<number>): Buffer {
  return Buffer.from(new Float32Array(values).buffer);
}

export function postJson(app: FastifyInstance, body: unknown, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: '/v1/dropout',
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export function postBinary(app: FastifyInstance, bytes: Buffer, query: string, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: `/v1/dropout${query ? `?${query}` : ''}`,
    headers: { 'content-type': 'application/octet-stream', ...headers },
    payload: bytes,
  });
}
