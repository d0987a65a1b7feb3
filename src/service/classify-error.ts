/**
 * Every error a call can end with, whatever raised it (a decoder, the settings, the pool, the deadline, the web
 * framework's own checks), as one code of errors.ts with its status and the words a client gets. Each protocol
 * renders the result in its own form (problem+json for /v1, {"error"} for /v2, a status for gRPC).
 */
import { PROBLEMS, type ProblemCode, ProblemError, quote } from '../errors.js';
import { describePath } from '../schemas/validate.js';

export interface ClassifiedError {
  code: ProblemCode;
  status: number;
  /** What the client must change (4xx), or the request id to quote (5xx); the native API's words. */
  detail: string;
  /**
   * The same in the Open Inference Protocol's terser words, where its clients have always read another text (the
   * framework's or validator's own message, Triton's wording for internal errors and timeouts).
   */
  brief: string;
  /** How the failure is logged: a fault of the service, a client that left, or not at all (the service working). */
  log?: 'error' | 'client-gone';
}

/** Which code a schema violation of each request field gets, so that e.g. a bad `p` reads P_OUT_OF_RANGE. */
const FIELD_CODES: Record<string, ProblemCode> = {
  p: 'P_OUT_OF_RANGE',
  seed: 'BAD_SEED',
  offset: 'BAD_OFFSET',
  shape: 'BAD_SHAPE',
  dtype: 'UNSUPPORTED_DTYPE',
};

const FRAMEWORK_CODES: Record<string, ProblemCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
};

const STATUS_CODES: Record<number, ProblemCode> = {
  404: 'NOT_FOUND',
  406: 'NOT_ACCEPTABLE',
  413: 'TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

interface AjvIssue {
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** The fields an error of the web framework, its validator or Node may carry. */
interface ErrorFields {
  name?: string;
  message?: string;
  code?: string;
  statusCode?: number;
  validation?: AjvIssue[];
  validationContext?: string;
}

function describeValidation(
  validation: AjvIssue[],
  context: string | undefined,
): { code: ProblemCode; detail: string } {
  const issue = validation[0];
  const where = `${context ?? 'request'}${describePath(issue.instancePath)}`;
  const field = issue.instancePath.split('/')[1] ?? '';
  let detail = `${where} ${issue.message ?? 'is invalid'}`;
  if (Array.isArray(issue.params.allowedValues)) detail += `: ${issue.params.allowedValues.join(', ')}`;
  if (typeof issue.params.additionalProperty === 'string') {
    detail = `${where} has an unknown field ${quote(issue.params.additionalProperty)}`;
  }
  return { code: Object.hasOwn(FIELD_CODES, field) ? FIELD_CODES[field] : 'INVALID_REQUEST', detail };
}

function internal(requestId: string): ClassifiedError {
  return {
    code: 'INTERNAL',
    status: PROBLEMS.INTERNAL.status,
    detail: `the service failed on request ${requestId}; quote it when reporting`,
    brief: `internal error (request ${requestId})`,
    log: 'error',
  };
}

export function classifyError(error: unknown, requestId: string): ClassifiedError {
  if (error instanceof ProblemError) {
    if (error.code === 'INTERNAL') return { ...internal(requestId), detail: error.detail };
    return { code: error.code, status: error.statusCode, detail: error.detail, brief: error.detail };
  }
  const fields: ErrorFields = typeof error === 'object' && error !== null ? (error as ErrorFields) : {};
  const message = fields.message ?? String(error);
  if (fields.name === 'TimeoutError') {
    return {
      code: 'DEADLINE_EXCEEDED',
      status: PROBLEMS.DEADLINE_EXCEEDED.status,
      detail: 'the computation did not finish within REQUEST_TIMEOUT_MS; send a smaller tensor or retry',
      brief: 'the computation did not finish within REQUEST_TIMEOUT_MS',
    };
  }
  if (fields.name === 'ClientGoneError') {
    return {
      code: 'INVALID_REQUEST',
      status: PROBLEMS.INVALID_REQUEST.status,
      detail: message,
      brief: message,
      log: 'client-gone',
    };
  }
  if (Array.isArray(fields.validation) && fields.validation.length > 0) {
    const { code, detail } = describeValidation(fields.validation, fields.validationContext);
    return { code, status: PROBLEMS[code].status, detail, brief: message };
  }
  const status = fields.statusCode ?? 500;
  if (status >= 500) return internal(requestId);
  const frameworkCode = fields.code === undefined ? undefined : FRAMEWORK_CODES[fields.code];
  const code =
    frameworkCode ?? (error instanceof SyntaxError ? 'MALFORMED_JSON' : (STATUS_CODES[status] ?? 'INVALID_REQUEST'));
  const brief = frameworkCode === 'TOO_LARGE' ? PROBLEMS.TOO_LARGE.title : message;
  return { code, status: PROBLEMS[code].status, detail: message, brief };
}
