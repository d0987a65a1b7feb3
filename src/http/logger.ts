/**
 * The process logger: pino writing to stdout in the background. pino's default destination writes each line with a
 * synchronous write(2), one system call per request on the hot path; here lines are gathered and written together,
 * at the latest FLUSH_MS after they were logged, flushed when the app closes and, synchronously, when the process
 * exits.
 *
 * Lines are copied as bytes into a preallocated buffer rather than gathered as a string (sonic-boom, pino's own
 * asynchronous destination): appending to a string builds a rope that is flattened, encoded and collected again for
 * every write, which cost ~4 µs a line, a twentieth of a small request.
 */
import { write as writeAsync, writeSync } from 'node:fs';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';

/** Longest a log line waits in memory before it is written. */
const FLUSH_MS = 200;
/** Bytes gathered before a write starts on its own (a few dozen request lines). */
const BATCH_BYTES = 4096;
/** Bytes of one gathering buffer; more fill while a write is under way. */
const BUFFER_BYTES = 64 * 1024;
/** Wait before retrying a write the descriptor refused for now (a full non-blocking pipe). */
const RETRY_MS = 10;

export interface ServiceLogger {
  logger: FastifyBaseLogger;
  /** Writes out what is buffered and stops the flush timer. */
  close(): Promise<void>;
}

/** Batchers holding lines not yet written, written out synchronously if the process exits first. */
const pending = new Set<LineBatcher>();

/** A pino destination gathering lines into buffers written to `fd` one at a time, in order. */
export class LineBatcher {
  readonly #fd: number;
  #buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  #used = 0;
  /** Filled buffers waiting for the write under way. */
  readonly #queue: Buffer[] = [];
  #writing = false;
  #drained: (() => void)[] = [];

  constructor(fd: number) {
    this.#fd = fd;
  }

  write(line: string): boolean {
    if (this.#used === 0) pending.add(this);
    // A UTF-16 unit is at most 3 bytes of UTF-8, so a line that fits this bound fits the buffer whole.
    if (BUFFER_BYTES - this.#used < line.length * 3) {
      this.#seal();
      if (line.length * 3 > BUFFER_BYTES) {
        this.#queue.push(Buffer.from(line));
        this.#next();
        return true;
      }
    }
    this.#used += this.#buffer.write(line, this.#used);
    if (this.#used >= BATCH_BYTES && !this.#writing) {
      this.#seal();
      this.#next();
    }
    return true;
  }

  /** Starts writing whatever is gathered; `done` once all of it has been written (or failed). */
  flush(done?: () => void): void {
    this.#seal();
    if (done !== undefined) {
      if (!this.#writing && this.#queue.length === 0) done();
      else this.#drained.push(done);
    }
    this.#next();
  }

  /** Writes out everything now, blocking: for the process's exit, when no callback will run any more. */
  flushSync(): void {
    this.#seal();
    for (const chunk of this.#queue.splice(0)) {
      let offset = 0;
      while (offset < chunk.length) {
        try {
          offset += writeSync(this.#fd, chunk, offset, chunk.length - offset);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') break;
        }
      }
    }
  }

  #seal(): void {
    if (this.#used === 0) return;
    this.#queue.push(this.#buffer.subarray(0, this.#used));
    this.#buffer = Buffer.allocUnsafe(BUFFER_BYTES);
    this.#used = 0;
  }

  #next(): void {
    if (this.#writing) return;
    const chunk = this.#queue.shift();
    if (chunk === undefined) {
      if (this.#used === 0) pending.delete(this);
      for (const done of this.#drained.splice(0)) done();
      return;
    }
    this.#writing = true;
    this.#write(chunk);
  }

  #write(chunk: Buffer): void {
    writeAsync(this.#fd, chunk, 0, chunk.length, null, (error, written) => {
      if (error?.code === 'EAGAIN') {
        setTimeout(() => this.#write(chunk), RETRY_MS).unref();
        return;
      }
      // Any other failure (stdout closed) loses this batch: there is nowhere left to report it.
      if (error === null && written < chunk.length) {
        this.#write(chunk.subarray(written));
        return;
      }
      this.#writing = false;
      this.#next();
    });
  }
}

let exitHookInstalled = false;

export function createLogger(level: string): ServiceLogger {
  if (level === 'silent') return { logger: pino({ level }), close: async () => {} };
  const destination = new LineBatcher(1);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Also what is logged after close (a failed shutdown's last words) is written before the process ends.
    process.on('exit', () => {
      for (const batcher of pending) batcher.flushSync();
    });
  }
  const timer = setInterval(() => destination.flush(), FLUSH_MS);
  timer.unref();
  return {
    logger: pino({ level }, destination),
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        destination.flush(resolve);
      }),
  };
}
