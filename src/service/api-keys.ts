/**
 * Bearer API keys (API_KEYS), for every protocol: a token is looked up in constant time, so how long a comparison
 * takes says nothing about which key, or how much of one, a guess matched.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** SHA-256 first, so every comparison is of 32 bytes whatever the key lengths (timingSafeEqual needs equal sizes). */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** The token of an `Authorization: Bearer <token>` value (HTTP header or gRPC metadata), if it is one. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match?.[1];
}

export class ApiKeys {
  readonly #keys: Buffer[];

  constructor(keys: readonly string[]) {
    this.#keys = keys.map(digest);
  }

  /** Whether any key is configured (none: no authentication). */
  get enabled(): boolean {
    return this.#keys.length > 0;
  }

  /** The index of the key `token` is, or -1. */
  match(token: string | undefined): number {
    if (this.#keys.length === 0 || token === undefined) return -1;
    const given = digest(token);
    let match = -1;
    // Every key is compared, so the time taken does not say which key matched.
    for (let k = 0; k < this.#keys.length; k++) if (timingSafeEqual(this.#keys[k], given)) match = k;
    return match;
  }
}
