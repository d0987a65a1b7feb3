/**
 * dropout-service/client: a typed client for POST /v1/dropout over fetch. It imports nothing of the server at run
 * time (only type declarations), so it runs in Node ≥ 18 and in browsers.
 *
 *   const client = createClient({ baseUrl: 'http://127.0.0.1:3000' });
 *   const { output, seed } = await client.dropout([[1, 2, 3], [4, 5, 6]], { p: 0.5, seed: 42 });
 *   const { data } = await client.dropout(new Float32Array(1024), { shape: [32, 32], seed: 7n });
 */
import type { Dtype } from '../kernel/dtype.js';
import type {
  ArrayInputOptions,
  ClientOptions,
  DropoutClient,
  DropoutSettings,
  NestedInput,
  TypedTensor,
} from './types.js';
import {
  binaryQuery,
  errorFrom,
  jsonBody,
  MEDIA,
  readBinaryResult,
  readJsonResult,
  typedBytes,
  typedDtype,
} from './wire.js';

export type { DropoutErrorCode, DropoutServiceErrorInit, ProblemDocument } from './error.js';
export { DropoutServiceError, isDropoutServiceError } from './error.js';
export type * from './types.js';

interface AnyOptions extends ArrayInputOptions {
  format?: 'json' | 'binary';
  returnMask?: boolean;
}

function isTypedTensor(value: unknown): value is TypedTensor {
  return value instanceof Float32Array || value instanceof Float64Array || value instanceof Uint16Array;
}

function settingsOf(options: AnyOptions): DropoutSettings {
  const { p, mode, seed, offset, variant, noiseShape, rng } = options;
  return { p, mode, seed, offset, variant, noiseShape, rng };
}

/** A client for one service: `dropout(tensor, options)` over JSON or raw binary, results and errors typed. */
export function createClient(clientOptions: ClientOptions): DropoutClient {
  const base = new URL(String(clientOptions.baseUrl));
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  const endpoint = new URL('v1/dropout', base);
  const fetchImpl = clientOptions.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw new TypeError('no fetch: pass options.fetch (Node ≥ 18 has one)');
  const commonHeaders: Record<string, string> = { ...clientOptions.headers };
  if (clientOptions.apiKey !== undefined) commonHeaders.authorization = `Bearer ${clientOptions.apiKey}`;

  async function dropout(tensor: NestedInput | TypedTensor, options: AnyOptions = {}) {
    const typed = isTypedTensor(tensor);
    const format = options.format ?? (typed ? 'binary' : 'json');
    if (options.returnMask && format !== 'json') {
      throw new TypeError('returnMask needs a JSON reply (format: "json")');
    }
    if (options.returnMask && typed) throw new TypeError('returnMask needs an array input (sent as JSON)');
    const settings = settingsOf(options);
    let url = endpoint;
    let body: string | Uint8Array<ArrayBuffer>;
    let contentType: string;
    if (typed) {
      const dtype: Dtype = typedDtype(tensor, options.dtype);
      url = new URL(endpoint);
      url.search = binaryQuery(settings, options.shape, dtype).toString();
      body = typedBytes(tensor);
      contentType = MEDIA.binary;
    } else if (Array.isArray(tensor)) {
      body = jsonBody(tensor, settings, { shape: options.shape, dtype: options.dtype, returnMask: options.returnMask });
      contentType = MEDIA.json;
    } else {
      throw new TypeError('the tensor must be an array, a Float32Array, a Float64Array or a Uint16Array');
    }
    const response = await fetchImpl(url, {
      method: 'POST',
      headers: { ...commonHeaders, 'content-type': contentType, accept: MEDIA[format] },
      body,
      signal: options.signal,
    });
    if (!response.ok) throw await errorFrom(response);
    return format === 'json' ? readJsonResult(response) : readBinaryResult(response);
  }

  return { dropout: dropout as DropoutClient['dropout'] };
}

export default createClient;
