/**
 * The gRPC renderer of the service's errors: each problem's HTTP status becomes the gRPC status code that means the
 * same to a client (a 400 is INVALID_ARGUMENT, a shed request UNAVAILABLE, so clients retry it as they retry
 * Triton), with the words /v2 sends (service/classify-error.ts). An unexpected error is INTERNAL and names only the
 * call.
 */
import { status as Status } from '@grpc/grpc-js';
import { clip, MAX_DETAIL_CHARS } from '../errors.js';
import { classifyError } from '../service/classify-error.js';
import { ClientGoneError } from '../service/deadline.js';

export interface GrpcError {
  code: Status;
  details: string;
  /** A fault of the service's own, to be logged. */
  internal: boolean;
}

/** What a problem's HTTP status is in gRPC's codes. */
export function grpcCode(httpStatus: number): Status {
  switch (httpStatus) {
    case 400:
    case 406:
    case 415:
      return Status.INVALID_ARGUMENT;
    case 401:
      return Status.UNAUTHENTICATED;
    case 403:
      return Status.PERMISSION_DENIED;
    case 404:
      return Status.NOT_FOUND;
    case 405:
      return Status.UNIMPLEMENTED;
    case 408:
    case 504:
      return Status.DEADLINE_EXCEEDED;
    case 413:
    case 429:
      return Status.RESOURCE_EXHAUSTED;
    case 503:
      return Status.UNAVAILABLE;
    default:
      return Status.INTERNAL;
  }
}

/** The status a failed call answers with; `callId` names an internal failure in the reply and in the log. */
export function renderError(error: unknown, callId: string): GrpcError {
  if (error instanceof ClientGoneError) return { code: Status.CANCELLED, details: error.message, internal: false };
  // The Open Inference Protocol's words, as /v2 sends them.
  const { status, brief, log } = classifyError(error, callId);
  return { code: grpcCode(status), details: clip(brief, MAX_DETAIL_CHARS), internal: log === 'error' };
}
