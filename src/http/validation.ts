/**
 * Schema validation with two Ajv instances: JSON bodies already carry types, so nothing is coerced there (a seed
 * string must stay a string to keep all 64 bits, and "0.5" is not a number); query strings are all text, so their
 * numbers are coerced. Fastify's single default instance would coerce both.
 */
import { Ajv, type Options } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';

const common: Options = {
  // Unknown fields are an error the client should hear about, not something to drop silently.
  removeAdditional: false,
  useDefaults: false,
  // One error is enough to answer with, and allErrors makes validation cost grow with hostile input.
  allErrors: false,
  addUsedSchema: false,
  strict: false,
};

const bodyAjv = new Ajv({ ...common, coerceTypes: false });
const textAjv = new Ajv({ ...common, coerceTypes: 'array' });

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? bodyAjv : textAjv).compile(schema as object);
