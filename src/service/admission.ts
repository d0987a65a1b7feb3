/**
 * What a compute request may hold, and the guarantee that it gives everything back. A request is admitted twice:
 * by bytes when it arrives (its declared Content-Length, or what it has sent so far for chunked or compressed
 * bodies, against MAX_INFLIGHT_BYTES), and by count once its body is complete (MAX_QUEUE computations): an upload
 * that is still arriving holds memory, never a compute slot.
 *
 * Each admitted request has a Lease. The lease is held by the response until its socket is done with it (the
 * response's 'close', which fires on every path: sent, failed, or the client gone mid-reply) and by every piece of
 * work that may still touch its memory (`during`). When the last hold ends, the slot, the reserved bytes and the
 * leased buffers all come back at once; a buffer is never recycled while a worker could still be writing it.
 */
import { isPromise, type MaybePromise } from '../maybe-promise.js';
import type { BufferCache } from './buffer-cache.js';

export interface AdmissionLimits {
  /** Most computations admitted at once (MAX_QUEUE). */
  maxQueue: number;
  /** Most request-body bytes held at once (MAX_INFLIGHT_BYTES). */
  maxInflightBytes: number;
}

export class Lease {
  readonly startedAt = performance.now();
  #holds = 1;
  #bytes = 0;
  #slot = false;
  #buffers: SharedArrayBuffer[] = [];

  constructor(
    readonly admission: Admission,
    /** Closes the request's connection: its response hold then ends. */
    readonly abandon: () => void,
  ) {}

  /** Counts `bytes` more against the byte budget; false (nothing reserved) when they do not fit. */
  reserve(bytes: number): boolean {
    if (!this.admission.reserve(bytes)) return false;
    this.#bytes += bytes;
    return true;
  }

  get reservedBytes(): number {
    return this.#bytes;
  }

  /** A compute slot, or why there is none. */
  takeSlot(): string | null {
    if (this.#slot) return null;
    const reason = this.admission.takeSlot();
    if (reason === null) this.#slot = true;
    return reason;
  }

  /** Shared memory for the request's tensors, recycled when the lease ends. */
  acquire(size: number): Uint8Array {
    const buffer = this.admission.buffers.acquire(size);
    this.#buffers.push(buffer);
    return new Uint8Array(buffer, 0, size);
  }

  /** Gives back early a buffer that nothing reads any more (one outgrown while reading a chunked body). */
  giveBack(buffer: ArrayBufferLike): void {
    const index = this.#buffers.indexOf(buffer as SharedArrayBuffer);
    if (index === -1) return;
    this.#buffers.splice(index, 1);
    this.admission.buffers.release(buffer as SharedArrayBuffer);
  }

  /** Keeps the lease while `work` runs (until its promise settles, if it returns one), whatever the response does. */
  during<T>(work: () => MaybePromise<T>): MaybePromise<T> {
    this.#holds++;
    let result: MaybePromise<T>;
    try {
      result = work();
    } catch (error) {
      this.end();
      throw error;
    }
    if (!isPromise(result)) {
      this.end();
      return result;
    }
    return result.finally(() => this.end());
  }

  /** Ends one hold; the last one returns everything. */
  end(): void {
    if (this.#holds === 0) return;
    if (--this.#holds > 0) return;
    for (const buffer of this.#buffers) this.admission.buffers.release(buffer);
    this.#buffers = [];
    this.admission.finish(this, this.#bytes, this.#slot);
    this.#bytes = 0;
    this.#slot = false;
  }
}

export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #leases = new Set<Lease>();
  #slots = 0;
  #bytes = 0;

  constructor(
    limits: AdmissionLimits,
    readonly buffers: BufferCache,
  ) {
    this.#limits = limits;
  }

  /** A lease for a request that arrives declaring `declaredBytes` of body, or why it cannot be admitted now. */
  admit(declaredBytes: number, abandon: () => void): Lease | string {
    const lease = new Lease(this, abandon);
    if (!lease.reserve(declaredBytes)) return this.bytesFull(declaredBytes);
    this.#leases.add(lease);
    return lease;
  }

  reserve(bytes: number): boolean {
    if (bytes > 0 && this.#bytes + bytes > this.#limits.maxInflightBytes) return false;
    this.#bytes += bytes;
    return true;
  }

  takeSlot(): string | null {
    if (this.#slots >= this.#limits.maxQueue) return this.queueFull();
    this.#slots++;
    return null;
  }

  finish(lease: Lease, bytes: number, slot: boolean): void {
    this.#bytes -= bytes;
    if (slot) this.#slots--;
    this.#leases.delete(lease);
  }

  /** Why a body of `more` bytes would not fit now. */
  bytesFull(more: number): string {
    return `${this.#bytes} bytes of request bodies are in flight and ${more} more do not fit (MAX_INFLIGHT_BYTES ${this.#limits.maxInflightBytes})`;
  }

  queueFull(): string | null {
    return this.#slots >= this.#limits.maxQueue
      ? `${this.#slots} computations are in flight (MAX_QUEUE ${this.#limits.maxQueue})`
      : null;
  }

  get slots(): number {
    return this.#slots;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get leases(): number {
    return this.#leases.size;
  }

  /** Closes the connections of requests that have held their resources for longer than `ms`. */
  abandonOlderThan(ms: number, now = performance.now()): void {
    for (const lease of this.#leases) if (now - lease.startedAt > ms) lease.abandon();
  }

  /** How long the oldest request still holding resources has held them, in ms (0 when none does). */
  oldestMs(now = performance.now()): number {
    let oldest = 0;
    for (const lease of this.#leases) oldest = Math.max(oldest, now - lease.startedAt);
    return oldest;
  }
}

/** For code paths without a lease (a request refused before admission): runs work with nothing to hold. */
export const NO_LEASE = { during: <T>(work: () => MaybePromise<T>): MaybePromise<T> => work() };
