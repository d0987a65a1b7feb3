/** Request and reply shapes of POST /v1/dropout: validation, TypeScript types and the OpenAPI document. */
import { type Static, type TSchema, Type } from 'typebox';
import {
  DtypeSchema,
  ModeSchema,
  OFFSET_DESCRIPTION,
  OffsetSchema,
  PSchema,
  RngSchema,
  SEED_DESCRIPTION,
  SeedSchema,
  VariantSchema,
} from './common.js';

const ShapeSchema = Type.Array(Type.Integer({ minimum: 0 }), {
  description: 'Dimensions, row-major. Needed for a flat input of rank ≠ 1; inferred from a nested one.',
  examples: [[2, 3]],
});

/** The README's request; DROPOUT_REPLY_EXAMPLE is what the service answers to it (test/docs/first-use.test.ts checks). */
export const DROPOUT_REQUEST_EXAMPLE = {
  input: [
    [1, 2, 3],
    [4, 5, 6],
  ],
  p: 0.5,
  seed: 42,
  return_mask: true,
};

export const DROPOUT_REPLY_EXAMPLE = {
  output: [
    [0, 4, 6],
    [8, 0, 12],
  ],
  shape: [2, 3],
  dtype: 'float32',
  p: 0.5,
  mode: 'train',
  variant: 'standard',
  rng: 'philox',
  seed: '42',
  offset: 0,
  kept: 4,
  mask: [
    [false, true, true],
    [true, false, true],
  ],
};

export const DropoutJsonBody = Type.Object(
  {
    input: Type.Array(Type.Unknown(), {
      description:
        'The tensor: a rectangular nested array (shape inferred) or a flat row-major array. Values are numbers or the strings "NaN", "Infinity", "-Infinity".',
      examples: [
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
      ],
    }),
    shape: Type.Optional(ShapeSchema),
    dtype: Type.Optional(DtypeSchema),
    p: Type.Optional(PSchema),
    mode: Type.Optional(ModeSchema),
    seed: Type.Optional(SeedSchema),
    offset: Type.Optional(OffsetSchema),
    variant: Type.Optional(VariantSchema),
    rng: Type.Optional(RngSchema),
    noise_shape: Type.Optional(
      Type.Array(Type.Integer({ minimum: 1 }), {
        description:
          "Shape of the dropout noise, broadcast over the input (TensorFlow/Keras semantics): same rank, each dim the input's or 1. One draw per noise element.",
        examples: [[2, 3, 1]],
      }),
    ),
    return_mask: Type.Optional(
      Type.Boolean({ default: false, description: 'Also return the keep mask (true where an element was kept).' }),
    ),
  },
  {
    additionalProperties: false,
    title: 'DropoutRequest',
    description:
      'A JSON body carries the tensor and all its settings as fields; the query parameters are for binary and .npy bodies and are not read.',
    examples: [DROPOUT_REQUEST_EXAMPLE],
  },
);
export type DropoutJsonBody = Static<typeof DropoutJsonBody>;

/**
 * A query parameter, labelled as one only binary and .npy bodies read. No default or example: Swagger UI fills its
 * form with them and would send them along with a JSON body, which ignores them. The defaults still apply, the same
 * as the JSON fields'.
 */
function binaryOnly<T extends TSchema>(schema: T): T {
  const { default: _default, examples: _examples, ...rest } = schema as T & { default?: unknown; examples?: unknown };
  const description = (schema as { description?: string }).description;
  return { ...rest, description: `Binary and .npy bodies only: ${description}` } as unknown as T;
}

/** Settings of a binary or .npy body; a JSON body carries its own and the query is not read. */
export const DropoutQuery = Type.Object(
  {
    shape: Type.Optional(
      binaryOnly(Type.String({ description: 'Comma-separated dims of a binary body (omitted: 1-D), e.g. 2,3,4.' })),
    ),
    dtype: Type.Optional(binaryOnly(DtypeSchema)),
    p: Type.Optional(binaryOnly(PSchema)),
    mode: Type.Optional(binaryOnly(ModeSchema)),
    seed: Type.Optional(binaryOnly(Type.String({ description: SEED_DESCRIPTION }))),
    offset: Type.Optional(binaryOnly(Type.String({ description: OFFSET_DESCRIPTION }))),
    variant: Type.Optional(binaryOnly(VariantSchema)),
    rng: Type.Optional(binaryOnly(RngSchema)),
    noise_shape: Type.Optional(
      binaryOnly(
        Type.String({ description: 'Comma-separated noise shape, e.g. 2,3,1 (see the JSON field noise_shape).' }),
      ),
    ),
  },
  { additionalProperties: false },
);
export type DropoutQuery = Static<typeof DropoutQuery>;

const NestedValues = Type.Array(Type.Unknown(), {
  description:
    'Same nesting as the input; numbers as the shortest decimal that reads back as the same float32 (float32, float16, bfloat16) or float64 (float64); negative zero as -0.0.',
});

export const DropoutJsonReply = Type.Object(
  {
    output: Type.Union([
      NestedValues,
      Type.Union([Type.Number(), Type.String()], {
        description: 'A 0-d tensor (shape []): its one value, bare, as tolist() gives it.',
      }),
    ]),
    shape: Type.Array(Type.Integer()),
    dtype: DtypeSchema,
    p: Type.Number(),
    mode: ModeSchema,
    variant: VariantSchema,
    rng: RngSchema,
    seed: Type.Union([Type.String(), Type.Null()], {
      description: 'The seed used, as a decimal string; null in eval mode.',
    }),
    offset: Type.Integer(),
    kept: Type.Integer({ description: 'How many elements were kept.' }),
    mask: Type.Optional(
      Type.Union([Type.Array(Type.Unknown()), Type.Boolean()], {
        description: 'With return_mask: true where kept, nested as output (a bare boolean for a 0-d tensor).',
      }),
    ),
  },
  { title: 'DropoutReply', examples: [DROPOUT_REPLY_EXAMPLE] },
);
