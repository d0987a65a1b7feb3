/**
 * Fastify's schema compiler over the project's validators (schemas/validate.ts): bodies validated as sent, query
 * strings with numbers coerced from text.
 */
import type { FastifySchemaCompiler } from 'fastify';
import { bodyValidator, textValidator, type Validate } from '../schemas/validate.js';
import { DeferredJson } from './json-body.js';

function deferrableBodyValidator(schema: object): Validate {
  const validate = bodyValidator(schema);
  // A large JSON body is parsed by a worker; the route validates its fields with validateBody once they exist.
  const wrapper: Validate = (data) => {
    if (data instanceof DeferredJson) return true;
    const valid = validate(data);
    wrapper.errors = validate.errors;
    return valid;
  };
  return wrapper;
}

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  httpPart === 'body' ? deferrableBodyValidator(schema as object) : textValidator(schema as object);
