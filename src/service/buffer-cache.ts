/**
 * Recycles the SharedArrayBuffers that request tensors live in. Two reasons, both measured:
 * - A fresh SharedArrayBuffer of megabytes is new mapped memory whose first write page-faults on every page: in the
 *   profile of 4 MiB binary requests that cost more than the dropout itself.
 * - V8 does not count SharedArrayBuffer memory towards starting a collection (300 dropped 8 MiB buffers, 3 MiB
 *   written in each, kept 990 MB resident on Node 20; the same with ArrayBuffers stayed at 81 MB). A dropped buffer
 *   is only freed by a collection that something else starts, so memory that is not recycled is effectively leaked.
 *
 * Buffers come in power-of-two sizes and at most `maxCachedBytes` are kept. Whatever is dropped instead (over the
 * budget, or trimmed after the service has been idle) is counted, and once enough has been dropped the optional
 * `collectGarbage` runs a full collection, so memory from a burst of large requests goes back to the system.
 */
const MIN_POOLED = 64 * 1024;

/** Dropped bytes after which a collection is worth its pause (tens of ms on a large heap). */
const COLLECT_AFTER_DROPPED_BYTES = 64 * 1024 * 1024;
/** Idle time after which the cache is emptied and collected. */
const IDLE_TRIM_MS = 10_000;

export interface BufferCacheOptions {
  maxCachedBytes: number;
  /** A full garbage collection (the process's `gc`), or nothing to leave dropped memory to V8's own schedule. */
  collectGarbage?: () => void;
}

export class BufferCache {
  readonly #free = new Map<number, SharedArrayBuffer[]>();
  readonly #maxCachedBytes: number;
  readonly #collectGarbage: (() => void) | undefined;
  #cached = 0;
  #dropped = 0;
  #lastUse = performance.now();
  #collectTimer: NodeJS.Timeout | undefined;
  readonly #trimTimer: NodeJS.Timeout;

  constructor(options: BufferCacheOptions) {
    this.#maxCachedBytes = options.maxCachedBytes;
    this.#collectGarbage = options.collectGarbage;
    this.#trimTimer = setInterval(() => {
      if (this.#cached > 0 && performance.now() - this.#lastUse > IDLE_TRIM_MS) this.trim();
    }, IDLE_TRIM_MS).unref();
  }

  /** A buffer of at least `size` bytes; its contents are whatever the last user left. */
  acquire(size: number): SharedArrayBuffer {
    this.#lastUse = performance.now();
    if (size < MIN_POOLED) return new SharedArrayBuffer(size);
    const capacity = 2 ** Math.ceil(Math.log2(size));
    const reused = this.#free.get(capacity)?.pop();
    if (reused) {
      this.#cached -= capacity;
      return reused;
    }
    return new SharedArrayBuffer(capacity);
  }

  /** Gives a buffer back once nothing reads or writes it any more. */
  release(buffer: SharedArrayBuffer): void {
    this.#lastUse = performance.now();
    const size = buffer.byteLength;
    if (size < MIN_POOLED || 2 ** Math.round(Math.log2(size)) !== size) return;
    if (size > this.#maxCachedBytes) {
      this.#drop(size);
      return;
    }
    // The buffer just released is the likeliest to be asked for again: older ones make room for it.
    for (const [capacity, list] of this.#free) {
      while (this.#cached + size > this.#maxCachedBytes && list.length > 0) {
        list.pop();
        this.#cached -= capacity;
        this.#drop(capacity);
      }
      if (list.length === 0) this.#free.delete(capacity);
    }
    const list = this.#free.get(size) ?? [];
    list.push(buffer);
    this.#free.set(size, list);
    this.#cached += size;
  }

  /** Drops every cached buffer. */
  trim(): void {
    const bytes = this.#cached;
    this.#free.clear();
    this.#cached = 0;
    this.#drop(bytes);
  }

  get cachedBytes(): number {
    return this.#cached;
  }

  close(): void {
    clearInterval(this.#trimTimer);
    clearTimeout(this.#collectTimer);
    this.#free.clear();
    this.#cached = 0;
  }

  #drop(bytes: number): void {
    if (this.#collectGarbage === undefined || bytes === 0) return;
    this.#dropped += bytes;
    if (this.#dropped < COLLECT_AFTER_DROPPED_BYTES && this.#cached > 0) return;
    // Once a second at most, and outside the request that dropped it.
    this.#collectTimer ??= setTimeout(() => {
      this.#collectTimer = undefined;
      this.#dropped = 0;
      this.#collectGarbage?.();
    }, 1000).unref();
  }
}
