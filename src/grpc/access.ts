/**
 * Who may call over gRPC, with HTTP's rules (http/access.ts): a bearer API key in the `authorization` metadata when
 * API_KEYS is set, and RATE_LIMIT_PER_MINUTE calls per minute per valid key, else per client address, counted before
 * a key is refused so guesses count too. Probes (ServerLive, ServerReady, the health service) are always open.
 * Each stream message counts as a call: each is an inference.
 */
import { normalizeIP } from '@fastify/rate-limit';
import { ProblemError } from '../errors.js';
import { type ApiKeys, bearerToken } from '../service/api-keys.js';

const WINDOW_MS = 60_000;

/**
 * The client's address from grpc-js's peer ("1.2.3.4:5678", "[::1]:5678"), grouped as HTTP's rate limit groups
 * request.ip: an IPv6 /64 as one address, an IPv4-mapped IPv6 as its IPv4.
 */
export function peerAddress(peer: string): string {
  const v6 = /^\[([^\]]+)\]:\d+$/.exec(peer);
  return normalizeIP(v6 ? v6[1] : peer.replace(/:\d+$/, ''));
}

/** Entries kept before expired windows are swept out, so a flood of addresses cannot grow the table for long. */
const SWEEP_AT = 10_000;

export class GrpcAccess {
  readonly #windows = new Map<string, { count: number; ends: number }>();

  constructor(
    private readonly keys: ApiKeys,
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws the call's RATE_LIMITED or UNAUTHORIZED problem, if it has one. */
  check(authorization: string | undefined, peer: string): void {
    const token = bearerToken(authorization);
    const key = this.keys.match(token);
    if (this.perMinute > 0) this.count(key >= 0 ? `key:${key}` : `ip:${peerAddress(peer)}`);
    if (this.keys.enabled && key < 0) {
      throw new ProblemError(
        'UNAUTHORIZED',
        token === undefined ? 'send an API key as authorization: Bearer <key> metadata' : 'the API key is not valid',
      );
    }
  }

  /** A window of a minute from each client's first call in it, as @fastify/rate-limit's local store keeps. */
  private count(id: string): void {
    const now = this.now();
    let window = this.#windows.get(id);
    if (window === undefined || now >= window.ends) {
      if (this.#windows.size >= SWEEP_AT)
        for (const [k, w] of this.#windows) if (now >= w.ends) this.#windows.delete(k);
      window = { count: 0, ends: now + WINDOW_MS };
      this.#windows.set(id, window);
    }
    window.count++;
    if (window.count > this.perMinute) {
      throw new ProblemError(
        'RATE_LIMITED',
        `more than ${this.perMinute} requests per minute from this key or address; retry in ${Math.ceil((window.ends - now) / 1000)} seconds`,
      );
    }
  }
}
