/** Request and reply shapes of POST /v1/dropout: validation, TypeScript types and the OpenAPI document. */
import { type Static, Type } from 'typebox';
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
    examples: [
      {
        input: [
          [1, 2, 3],
          [4, 5, 6],
        ],
        p: 0.5,
        seed: 42,
      },
    ],
  },
);
export type DropoutJsonBody = Static<typeof DropoutJsonBody>;

/** Settings of a binary or .npy body; a JSON body carries its own and the query is not read. */
export const DropoutQuery = Type.Object(
  {
    shape: Type.Optional(
      // No examples on the query: Swagger UI would send them along with a JSON body's own settings.
      Type.String({ description: 'Comma-separated dims of a binary body (omitted: 1-D), e.g. 2,3,4.' }),
    ),
    dtype: Type.Optional(DtypeSchema),
    p: Type.Optional(PSchema),
    mode: Type.Optional(ModeSchema),
    seed: Type.Optional(Type.String({ description: SEED_DESCRIPTION })),
    offset: Type.Optional(Type.String({ description: OFFSET_DESCRIPTION })),
    variant: Type.Optional(VariantSchema),
    rng: Type.Optional(RngSchema),
    noise_shape: Type.Optional(
      Type.String({ description: 'Comma-separated noise shape, e.g. 2,3,1 (see the JSON field noise_shape).' }),
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
    output: NestedValues,
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
      Type.Array(Type.Unknown(), { description: 'With return_mask: true where kept, same nesting.' }),
    ),
  },
  { title: 'DropoutReply' },
);
