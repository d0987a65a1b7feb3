/**
 * The application/json body parser. Small bodies are parsed here by Fastify's own JSON parser (with its
 * prototype-poisoning checks) and validated by the route schema. Large bodies are only read into shared memory here
 * and parsed by a pool worker, so a megabyte of numbers never stalls the event loop.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyBodyParser, FastifyRequest } from 'fastify';
import type { BodyReader } from './body-reader.js';

/** A JSON body left unparsed for a worker; route validation runs on its fields once the worker has parsed it. */
export class DeferredJson {
  constructor(readonly bytes: Uint8Array) {}
}

export interface JsonBodyOptions {
  reader: BodyReader;
  /** Bodies up to this many bytes are parsed on the main thread. */
  inlineMaxBytes: number;
  defaultParser: FastifyBodyParser<string>;
}

export function jsonBodyParser(options: JsonBodyOptions) {
  const parse = (request: FastifyRequest, text: string): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const parser = options.defaultParser as (
        r: FastifyRequest,
        t: string,
        done: (e: Error | null, v?: unknown) => void,
      ) => void;
      parser(request, text, (error, value) => (error ? reject(error) : resolve(value)));
    });
  return async (request: FastifyRequest, payload: IncomingMessage): Promise<unknown> => {
    const declared = request.headers['content-length'];
    const small =
      declared !== undefined &&
      Number(declared) <= options.inlineMaxBytes &&
      request.headers['content-encoding'] === undefined;
    const bytes = await options.reader.read(request, payload, !small);
    if (bytes.length > options.inlineMaxBytes && bytes.buffer instanceof SharedArrayBuffer)
      return new DeferredJson(bytes);
    return parse(request, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  };
}
