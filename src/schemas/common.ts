/**
 * Schemas shared by several routes: the problem document, the dtype, and the dropout settings' fields (declared
 * with the settings, ../dropout/settings-schema.ts, whose type they give).
 */
import { Type } from 'typebox';
import { PROBLEMS } from '../errors.js';
import { DTYPES } from '../kernel/dtype.js';

export {
  ModeSchema,
  OFFSET_DESCRIPTION,
  OffsetSchema,
  PSchema,
  RngSchema,
  SEED_DESCRIPTION,
  SeedSchema,
  VariantSchema,
} from '../dropout/settings-schema.js';

export const ProblemSchema = Type.Object(
  {
    type: Type.String({
      description: 'URI naming the problem type',
      examples: ['urn:dropout-service:problem:p-out-of-range'],
    }),
    title: Type.String({ description: 'Short summary of the problem type' }),
    status: Type.Integer({ description: 'HTTP status code' }),
    detail: Type.String({ description: 'What was wrong with this request and what to change' }),
    code: Type.Enum(Object.keys(PROBLEMS), { description: 'Stable machine-readable error code' }),
    requestId: Type.Optional(Type.String({ description: 'Request id, on 5xx answers, for the logs' })),
  },
  { $id: 'Problem', title: 'Problem (RFC 9457)' },
);

export const DtypeSchema = Type.Enum([...DTYPES], {
  default: 'float32',
  description:
    'Element type of the tensor. float16/bfloat16 compute in float32 and round to 16 bits after each operation.',
});
