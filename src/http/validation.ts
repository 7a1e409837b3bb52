import type { FastifySchemaCompiler } from 'fastify';
import { z } from 'zod';
import type { FieldError } from '../domain/errors.js';
import { apiErrorMap } from './schemas/error-map.js';

/**
 * Request validation: fastify-type-provider-zod's compiler, but every parse carries the
 * API's error map, so messages name what a field takes. Scoped to requests: config and
 * domain parses keep zod's own wording.
 */
export class RequestValidationError extends Error {
  override name = 'RequestValidationError';
  /** Set by Fastify: body, querystring, params or headers. */
  validationContext?: string;
  constructor(readonly issues: readonly z.core.$ZodIssue[]) {
    super('request validation failed');
  }

  /** Each invalid field once per message; a strict object's unknown keys each named as a field. */
  fieldErrors(): FieldError[] {
    const seen = new Set<string>();
    const errors: FieldError[] = [];
    const add = (field: string, message: string) => {
      const key = `${field}\u0000${message}`;
      if (seen.has(key)) return;
      seen.add(key);
      errors.push({ field, message });
    };
    for (const issue of this.issues) {
      if (isSafeRangeNoise(issue, this.issues)) continue;
      const parent = issue.path.map(String).join('.');
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) add(parent ? `${parent}.${key}` : key, 'unknown field');
      } else {
        add(parent || (this.validationContext ?? 'body'), issue.message);
      }
    }
    return errors;
  }
}

/**
 * A number past 2^53 fails `.int()`'s safe range as well as the field's own maximum; the
 * field's bound is the one to tell, not two contradictory maxima.
 */
function isSafeRangeNoise(issue: z.core.$ZodIssue, all: readonly z.core.$ZodIssue[]): boolean {
  if (issue.code !== 'too_big' || issue.origin !== 'int') return false;
  const path = issue.path.join('.');
  return all.some((other) => other !== issue && other.code === 'too_big' && other.path.join('.') === path);
}

export const validatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema }) =>
  (data) => {
    const result = z.safeParse(schema, data, { error: apiErrorMap });
    return result.success
      ? { value: result.data }
      : { error: new RequestValidationError(result.error.issues) };
  };
