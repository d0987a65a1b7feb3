/**
 * Recycles the SharedArrayBuffers that request bodies are read into. A fresh SharedArrayBuffer of megabytes is
 * new mapped memory, and its first write page-faults on every page: in the profile of 4 MiB binary requests that
 * cost more than the dropout itself. Buffers come in power-of-two sizes and are kept up to a byte budget.
 */
const MIN_POOLED = 64 * 1024;

export class SharedBufferPool {
  readonly #free = new Map<number, SharedArrayBuffer[]>();
  #cached = 0;

  constructor(readonly maxCachedBytes: number) {}

  /** A buffer of at least `size` bytes; its contents are whatever the last user left. */
  acquire(size: number): SharedArrayBuffer {
    if (size < MIN_POOLED) return new SharedArrayBuffer(size);
    const capacity = 2 ** Math.ceil(Math.log2(size));
    const reused = this.#free.get(capacity)?.pop();
    if (reused) {
      this.#cached -= capacity;
      return reused;
    }
    return new SharedArrayBuffer(capacity);
  }

  /** Gives a buffer back once nothing reads or writes it any more (the response has been handed to the socket). */
  release(buffer: SharedArrayBuffer): void {
    const size = buffer.byteLength;
    if (size < MIN_POOLED || 2 ** Math.round(Math.log2(size)) !== size) return;
    if (this.#cached + size > this.maxCachedBytes) return;
    const list = this.#free.get(size) ?? [];
    list.push(buffer);
    this.#free.set(size, list);
    this.#cached += size;
  }

  get cachedBytes(): number {
    return this.#cached;
  }
}
