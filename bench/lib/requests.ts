/** The HTTP requests the rows send, each with the check of its reply. */
import { float32Body, K, M, sampleValues } from './bodies.js';
import type { LoadSpec } from './load.js';

export interface HttpCase {
  name: string;
  spec: Omit<LoadSpec, 'connections' | 'duration' | 'warmup'>;
  /** Checks one reply; returns what is wrong, or null. */
  check: (status: number, body: Buffer) => string | null;
}

export const BINARY_HEADERS = { 'content-type': 'application/octet-stream' };

/** A check of a 200 reply's body; any other status is wrong. */
function expect200(check: (body: Buffer) => string | null) {
  return (status: number, body: Buffer): string | null =>
    status !== 200 ? `status ${status}: ${body.toString().slice(0, 200)}` : check(body);
}

const expectJsonOutput = (n: number, key: string) =>
  expect200((body) => {
    const values = (JSON.parse(body.toString()) as Record<string, unknown>)[key];
    return Array.isArray(values) && values.length === n ? null : `reply has no ${key} of ${n} values`;
  });

const expectBytes = (n: number) =>
  expect200((body) => (body.length === n ? null : `reply is ${body.length} bytes, expected ${n}`));

/** n sample values as {input} (an echo's body) or {input, p: 0.5, seed: 1}; the reply must hold n in `replyKey`. */
export function jsonCase(name: string, url: string, n: number, replyKey: string, withSettings: boolean): HttpCase {
  const input = sampleValues(n);
  const body = JSON.stringify(withSettings ? { input, p: 0.5, seed: 1 } : { input });
  const headers = { 'content-type': 'application/json' };
  return { name, spec: { url, method: 'POST', headers, body }, check: expectJsonOutput(n, replyKey) };
}

const binaryBodies = new Map<number, Buffer>();

/** n float32 sample values as raw bytes (one body per size, shared); the reply must be as long. */
export function binaryCase(name: string, url: string, n: number): HttpCase {
  let body = binaryBodies.get(n);
  if (!body) {
    body = float32Body(n);
    binaryBodies.set(n, body);
  }
  return { name, spec: { url, method: 'POST', headers: BINARY_HEADERS, body }, check: expectBytes(n * 4) };
}

/** GET /hello of a bare baseline server. */
export function helloCase(baseUrl: string): HttpCase {
  return {
    name: 'hello',
    spec: { url: `${baseUrl}/hello` },
    check: (status, body) => (status === 200 && body.toString() === '{"hello":"world"}' ? null : `status ${status}`),
  };
}

/** The service's side of the HTTP rows, the same requests against every baseline. */
export function serviceCases(serviceUrl: string) {
  const url = `${serviceUrl}/v1/dropout`;
  const binUrl = `${url}?p=0.5&seed=1`;
  return {
    json16: jsonCase('service JSON 16', url, 16, 'output', true),
    json64K: jsonCase('service JSON 64K', url, 64 * K, 'output', true),
    bin64K: binaryCase('service binary 64K', binUrl, 64 * K),
    bin1M: binaryCase('service binary 1M', binUrl, M),
  };
}

export type ServiceCases = ReturnType<typeof serviceCases>;

/** Sends one request of the case and throws if its reply is not the expected one. */
export async function verify(c: HttpCase): Promise<void> {
  const response = await fetch(c.spec.url, {
    method: c.spec.method ?? 'GET',
    headers: c.spec.headers,
    body: c.spec.body,
    signal: AbortSignal.timeout(60_000),
  });
  const problem = c.check(response.status, Buffer.from(await response.arrayBuffer()));
  if (problem) throw new Error(`${c.name}: ${problem}`);
}
