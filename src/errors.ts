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
