import type { FastifySchemaCompiler } from 'fastify';
import { z } from 'zod';
import type { FieldError } from '../domain/errors.js';
import { apiErrorMap } from './schemas/error-map.js';
import type { FastLane } from './schemas/fast-lanes.js';

/**
 * A request the schema refused, its issues worded by the API's error map so messages name
 * what a field takes. Scoped to requests: config and domain parses keep zod's own wording.
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

/**
 * Request validation. A parse given an error map leaves zod's compiled fast path for
 * objects (≈ 3× the CPU of a plain parse of /check's body); the map only words the issues,
 * never decides them, so only a body the plain parse refused is parsed again with it. A
 * schema's fast lane (schemas/fast-lanes.ts), when it has one, goes first.
 */
export function createValidatorCompiler(
  lanes: ReadonlyMap<z.ZodType, FastLane> = new Map(),
): FastifySchemaCompiler<z.ZodType> {
  return ({ schema }) => {
    const lane = lanes.get(schema);
    return (data) => {
      const fast = lane?.(data) ?? null;
      if (fast !== null) return { value: fast };
      const plain = z.safeParse(schema, data);
      if (plain.success) return { value: plain.data };
      const worded = z.safeParse(schema, data, { error: apiErrorMap });
      return worded.success
        ? { value: worded.data }
        : { error: new RequestValidationError(worded.error.issues) };
    };
  };
}
