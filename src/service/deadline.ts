/**
 * The abort signal of one call: its deadline (REQUEST_TIMEOUT_MS from arrival, or the client's own when sooner) or
 * the client going away, whichever comes first. Pool work queued for an aborted call is dropped rather than
 * computed. The signal is made on first use: a timer is not worth setting for work that stays on this thread.
 */
import { setMaxListeners } from 'node:events';

export class ClientGoneError extends Error {
  override name = 'ClientGoneError';
}

export interface DeadlineSource {
  /** Milliseconds the call may take in all. */
  timeoutMs: number;
  /** Milliseconds since the call arrived. */
  elapsedMs(): number;
  /** Calls `abort` when the client goes away before its answer is complete. */
  onGone(abort: (error: ClientGoneError) => void): void;
}

export function lazySignal(source: DeadlineSource): () => AbortSignal {
  let signal: AbortSignal | undefined;
  return () => {
    if (signal !== undefined) return signal;
    const gone = new AbortController();
    source.onGone((error) => gone.abort(error));
    const remaining = Math.max(1, Math.round(source.timeoutMs - source.elapsedMs()));
    signal = AbortSignal.any([AbortSignal.timeout(remaining), gone.signal]);
    // Every pool task of the call listens to it (a 16M tensor in small chunks is many tasks).
    setMaxListeners(0, signal);
    return signal;
  };
}
