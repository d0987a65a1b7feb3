/** POST /v1/dropout's documentation: its bodies, replies and an example problem for each status it answers with. */

import { type Problem, toProblem } from '../../errors.js';
import { MEDIA_TYPES } from '../../http/formats.js';
import { PROBLEM_CONTENT_TYPE } from '../../http/problems.js';
import { ProblemSchema } from '../../schemas/common.js';

/**
 * One problem per status the route answers with, worded as the service words it; test/docs/first-use.test.ts provokes
 * the ones a request can and checks they are these.
 */
export const PROBLEM_EXAMPLES = {
  400: toProblem('P_OUT_OF_RANGE', 'body/p must be <= 1'),
  401: toProblem('UNAUTHORIZED', 'send an API key as Authorization: Bearer <key>'),
  406: toProblem('NOT_ACCEPTABLE', `Accept must allow ${Object.values(MEDIA_TYPES).join(' or ')}`),
  408: toProblem(
    'BODY_TIMEOUT',
    'no body bytes arrived for 5000 ms (BODY_IDLE_TIMEOUT_MS); send the body without pausing',
  ),
  413: toProblem('TOO_LARGE', 'shape [100000,100000] has 10000000000 elements; the limit is 16777216'),
  415: toProblem(
    'UNSUPPORTED_MEDIA_TYPE',
    `send the tensor as ${Object.values(MEDIA_TYPES).join(', ')} (got application/x-www-form-urlencoded)`,
  ),
  429: toProblem('RATE_LIMITED', 'more than 600 requests per minute from this key or address; retry in 42 seconds'),
  500: toProblem(
    'INTERNAL',
    'the service failed on request 8f0e7c1a-3b2d-4e5f-9a6b-7c8d9e0f1a2b; quote it when reporting',
    '8f0e7c1a-3b2d-4e5f-9a6b-7c8d9e0f1a2b',
  ),
  503: toProblem(
    'OVERLOADED',
    'the service is overloaded: 256 computations are in flight (MAX_QUEUE 256); retry shortly',
  ),
  504: toProblem(
    'DEADLINE_EXCEEDED',
    'the computation did not finish within REQUEST_TIMEOUT_MS; send a smaller tensor or retry',
  ),
} as const satisfies Record<number, Problem>;

const RETRY_AFTER = {
  'Retry-After': { type: 'integer', description: 'Seconds to wait before retrying' },
};

export const problem = (status: keyof typeof PROBLEM_EXAMPLES, description: string, retry = false) => ({
  description,
  ...(retry ? { headers: RETRY_AFTER } : {}),
  content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema, example: PROBLEM_EXAMPLES[status] } },
});

export const NPY_BODY_DOC = {
  description:
    'A NumPy .npy file (np.save: versions 1.0, 2.0, 3.0; <f2 <f4 <f8 or big-endian; C or Fortran order). Shape and dtype come from its header, the settings from the query. A .npy reply (Accept: application/x-npy) reads back with np.load; bfloat16 has no .npy code (415).',
  schema: { type: 'string', format: 'binary' },
};

export const BINARY_BODY_DOC = {
  description:
    'Raw little-endian values of the tensor, row-major; shape, dtype and the settings are query parameters. Reply headers: Tensor-Shape, Tensor-Dtype, Dropout-Seed, Dropout-Kept, Dropout-Offset.',
  schema: { type: 'string', format: 'binary' },
};
