/** The typed exception for every answer of the service that is not a success. */
import type { ProblemCode } from '../errors.js';

/**
 * The service's problem codes, plus `UNEXPECTED_RESPONSE` when the answer is not what the API promises (no problem
 * document, e.g. a proxy's HTML error page, or a success reply that cannot be read).
 */
export type DropoutErrorCode = ProblemCode | 'UNEXPECTED_RESPONSE';

/** An RFC 9457 problem document as the service sends it. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ProblemCode;
  instance?: string;
  requestId?: string;
}

export interface DropoutServiceErrorInit {
  status: number;
  code: DropoutErrorCode;
  title: string;
  detail: string;
  type?: string;
  requestId?: string;
  retryAfter?: number;
  problem?: ProblemDocument;
}

/** The service refused or failed a call: `code` is stable, `detail` says what to change. */
export class DropoutServiceError extends Error {
  override name = 'DropoutServiceError';
  /** HTTP status. */
  readonly status: number;
  readonly code: DropoutErrorCode;
  readonly title: string;
  readonly detail: string;
  /** The problem type URI, e.g. `urn:dropout-service:problem:p-out-of-range`. */
  readonly type: string | undefined;
  /** The request id (5xx answers), to quote when reporting. */
  readonly requestId: string | undefined;
  /** Seconds to wait, from `Retry-After` (429/503). */
  readonly retryAfter: number | undefined;
  /** The problem document itself, when there was one. */
  readonly problem: ProblemDocument | undefined;

  constructor(init: DropoutServiceErrorInit) {
    super(`${init.status} ${init.code}: ${init.detail || init.title}`);
    this.status = init.status;
    this.code = init.code;
    this.title = init.title;
    this.detail = init.detail;
    this.type = init.type;
    this.requestId = init.requestId;
    this.retryAfter = init.retryAfter;
    this.problem = init.problem;
  }
}

export function isDropoutServiceError(error: unknown): error is DropoutServiceError {
  return error instanceof DropoutServiceError;
}
