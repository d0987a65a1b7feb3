/**
 * Schema validation with two Ajv instances: JSON bodies already carry types, so nothing is coerced there (a seed
 * string must stay a string to keep all 64 bits, and "0.5" is not a number); query strings are all text, so their
 * numbers are coerced. Fastify's single default instance would coerce both.
 */
import { Ajv, type ErrorObject, type Options } from 'ajv';
import { clip } from '../errors.js';

const common: Options = {
  // Unknown fields are an error the client should hear about, not something to drop silently.
  removeAdditional: false,
  useDefaults: false,
  // One error is enough to answer with, and allErrors makes validation cost grow with hostile input.
  allErrors: false,
  addUsedSchema: false,
  strict: false,
  // The schemas are the service's own (TypeBox), fixed at build time and exercised by the tests; checking each
  // against the JSON Schema meta-schema first made every instance compile that meta-schema at start-up, which was
  // most of the validators' start-up cost.
  validateSchema: false,
};

const bodyAjv = new Ajv({ ...common, coerceTypes: false });
const textAjv = new Ajv({ ...common, coerceTypes: 'array' });

export type Validate = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

/** A validator for a JSON body's schema: types as sent. */
export const bodyValidator = (schema: object): Validate => bodyAjv.compile(schema);

/** A validator for a query string's or path's schema: numbers coerced from text. */
export const textValidator = (schema: object): Validate => textAjv.compile(schema);

/** An Ajv instancePath as a detail shows it: its segments are the client's own keys, each cut to a short prefix. */
export function describePath(instancePath: string): string {
  return instancePath
    .split('/')
    .map((segment) => clip(segment))
    .join('/');
}

/** Validates a body against a route's body schema, throwing the same error Fastify's own validation throws. */
export function validateBody(schema: object, data: unknown, context = 'body'): void {
  const validate = bodyAjv.compile(schema);
  if (validate(data)) return;
  const [first] = validate.errors ?? [];
  throw Object.assign(
    new Error(`${context}${describePath(first?.instancePath ?? '')} ${first?.message ?? 'is invalid'}`),
    {
      statusCode: 400,
      validation: validate.errors,
      validationContext: context,
    },
  );
}
