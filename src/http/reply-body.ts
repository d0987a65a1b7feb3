/**
 * Large reply bodies go to the socket one slice at a time, each written after the last was handed to the kernel and
 * an event-loop turn later. One write of megabytes holds the event loop for the whole copy into the kernel (on
 * loopback also the receiver's TCP processing): strace showed single writev calls of 5–11 MB taking 2–8.5 ms for a
 * 64 MiB reply, and every small request waited behind them. Handing Node several slices at once does not help:
 * libuv writes up to 32 queued requests per turn, so the bound has to come from here.
 */
import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';

/** Bytes per write: ~0.3–0.7 ms of kernel copy on the development machine. */
export const SLICE_BYTES = 1 << 20;

/** The parts of a reply body, in order, as slices of at most `sliceBytes`, one per event-loop turn. */
export class SlicedBody extends Readable {
  readonly #parts: readonly Uint8Array[];
  readonly #sliceBytes: number;
  #part = 0;
  #offset = 0;
  #pending: NodeJS.Immediate | undefined;

  constructor(parts: readonly Uint8Array[], sliceBytes = SLICE_BYTES) {
    // highWaterMark 0: nothing is read ahead, so the next slice exists only once the socket has taken the last one.
    super({ highWaterMark: 0 });
    this.#parts = parts;
    this.#sliceBytes = sliceBytes;
  }

  override _read(): void {
    this.#pending = setImmediate(() => {
      this.#pending = undefined;
      this.push(this.#next());
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#pending) clearImmediate(this.#pending);
    callback(error);
  }

  #next(): Uint8Array | null {
    while (this.#part < this.#parts.length) {
      const part = this.#parts[this.#part] as Uint8Array;
      if (this.#offset < part.length) {
        const end = Math.min(part.length, this.#offset + this.#sliceBytes);
        const slice = part.subarray(this.#offset, end);
        this.#offset = end;
        return slice;
      }
      this.#part += 1;
      this.#offset = 0;
    }
    return null;
  }
}

/**
 * Sends `parts` as the reply body with its Content-Length: as one buffer when small (copied only if there are several
 * parts), sliced when larger than one slice. The caller keeps the parts' memory untouched until the response is done.
 */
export function sendParts(reply: FastifyReply, parts: readonly Uint8Array[]): FastifyReply {
  let length = 0;
  for (const part of parts) length += part.length;
  if (length <= SLICE_BYTES) {
    const only = parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts);
    return reply.send(Buffer.from(only.buffer, only.byteOffset, only.length));
  }
  return reply.header('content-length', length).send(new SlicedBody(parts));
}
