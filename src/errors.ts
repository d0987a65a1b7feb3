/**
 * Every error the service answers with, declared once: a stable `code`, its HTTP status and an RFC 9457 title.
 * A hand-rolled table rather than @fastify/error because a problem document needs a title per code as well as a
 * message, and the table doubles as the OpenAPI list of codes.
 */
export const PROBLEMS = {
  INVALID_REQUEST: { status: 400, title: 'The request does not match the API' },
  MALFORMED_JSON: { status: 400, title: 'The body is not valid JSON' },
  P_OUT_OF_RANGE: { status: 400, title: 'p must be a number in [0, 1]' },
  BAD_SEED: { status: 400, title: 'seed must be an integer in [-2^63, 2^64)' },
  BAD_OFFSET: { status: 400, title: 'offset must be a non-negative integer' },
  BAD_SHAPE: { status: 400, title: 'shape must be a list of non-negative integers' },
  SHAPE_MISMATCH: { status: 400, title: 'The values do not fill the shape' },
  RAGGED_ARRAY: { status: 400, title: 'The nested array is not rectangular' },
  NON_NUMERIC: { status: 400, title: 'A tensor value is not a number' },
  BAD_BINARY_LENGTH: { status: 400, title: 'The binary body is not a whole number of elements' },
  BAD_NPY: { status: 400, title: 'The body is not a readable NumPy .npy file' },
  BAD_NOISE_SHAPE: { status: 400, title: 'The noise shape does not fit the input' },
  UNSUPPORTED_COMBINATION: { status: 400, title: 'These settings cannot be used together' },
  UNAUTHORIZED: { status: 401, title: 'A valid API key is required' },
  NOT_FOUND: { status: 404, title: 'No such route' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'The route does not take this method' },
  NOT_ACCEPTABLE: { status: 406, title: 'No reply format matches Accept' },
  BODY_TIMEOUT: { status: 408, title: 'The request body stopped arriving' },
  TOO_LARGE: { status: 413, title: 'The request is over a size limit' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported Content-Type' },
  UNSUPPORTED_DTYPE: { status: 415, title: 'Unsupported dtype' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  NOT_READY: { status: 503, title: 'The service is not ready' },
  NOT_LIVE: { status: 503, title: 'The service can no longer make progress' },
  OVERLOADED: { status: 503, title: 'The service is overloaded; retry later' },
  DEADLINE_EXCEEDED: { status: 504, title: 'The computation exceeded its deadline' },
  INTERNAL: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof PROBLEMS;

/** An error the client can act on (or, for 5xx, one the service owns); `detail` says what to change. */
export class ProblemError extends Error {
  override name = 'ProblemError';
  readonly statusCode: number;
  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
  ) {
    super(detail);
    this.statusCode = PROBLEMS[code].status;
  }
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ProblemCode;
  instance?: string;
  requestId?: string;
}

export function problemType(code: ProblemCode): string {
  return `urn:dropout-service:problem:${code.toLowerCase().replaceAll('_', '-')}`;
}

export function toProblem(code: ProblemCode, detail: string, requestId?: string): Problem {
  const { status, title } = PROBLEMS[code];
  return { type: problemType(code), title, status, detail, code, ...(requestId ? { requestId } : {}) };
}

/** Most characters of a client-supplied value a detail repeats: enough to recognise it, never enough to echo a body. */
export const QUOTE_CHARS = 64;
/** Longest detail sent: a backstop for text this service did not word itself (a library's message, a URL). */
export const MAX_DETAIL_CHARS = 512;

/** Client-supplied text as a detail shows it unquoted: itself, or its start, "…" and its length. */
export function clip(text: string, max = QUOTE_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}

/**
 * A client-supplied value as a detail shows it, as JSON: short values exactly as JSON.stringify writes them (number
 * arrays as `[2,3]`), long ones cut after QUOTE_CHARS characters with "…" and their length. Only the quoted part is
 * read, so a 200 MB string or a million-element array costs what a short one does.
 */
export function quote(value: unknown): string {
  let whole = true;
  const preview = (item: unknown, room: number): string => {
    if (typeof item === 'string') {
      if (item.length <= room) return JSON.stringify(item);
      if (item === value) whole = false;
      return `${JSON.stringify(item.slice(0, Math.max(room, 0))).slice(0, -1)}…"`;
    }
    if (typeof item !== 'object' || item === null) return String(item);
    const close = Array.isArray(item) ? ']' : '}';
    let text = Array.isArray(item) ? '[' : '{';
    const rest = () => {
      if (item === value) whole = false;
      return `${text}${text.length > 1 ? ',' : ''}…${close}`;
    };
    if (Array.isArray(item)) {
      for (let i = 0; i < item.length; i++) {
        if (text.length >= room) return rest();
        text += `${i > 0 ? ',' : ''}${preview(item[i], room - text.length)}`;
      }
    } else {
      for (const key in item) {
        if (!Object.hasOwn(item, key)) continue;
        if (text.length >= room) return rest();
        text += `${text.length > 1 ? ',' : ''}${preview(key, room - text.length)}:`;
        text += preview((item as Record<string, unknown>)[key], room - text.length);
      }
    }
    return text + close;
  };
  const text = preview(value, QUOTE_CHARS);
  if (whole) return text;
  if (typeof value === 'string') return `${text} (${value.length} characters)`;
  return Array.isArray(value) ? `${text} (${value.length} items)` : text;
}
