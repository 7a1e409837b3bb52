import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { apiErrorMap, expecting } from '../../../src/http/schemas/error-map.js';

/** The messages one field gets under the API's error map. */
function messagesOf(schema: z.ZodType, value: unknown): string[] {
  const result = z.safeParse(z.object({ field: schema }), value === undefined ? {} : { field: value }, {
    error: apiErrorMap,
  });
  return result.success ? [] : result.error.issues.map((issue) => issue.message);
}

describe('request validation messages', () => {
  it('calls an absent field required, naming what it takes', () => {
    expect(messagesOf(z.string(), undefined)).toEqual(['required: a string']);
    expect(messagesOf(z.number(), undefined)).toEqual(['required: a number']);
    expect(messagesOf(z.enum(['cost', 'requests']), undefined)).toEqual(['required: one of cost, requests']);
    expect(messagesOf(z.union([z.number(), z.string()]), undefined)).toEqual([
      'required: a number or a string',
    ]);
  });

  it('names the expected and the received type', () => {
    expect(messagesOf(z.string(), 42)).toEqual(['expected a string, received a number']);
    expect(messagesOf(z.boolean(), 'yes')).toEqual(['expected true or false, received a string']);
    expect(messagesOf(z.object({}), [])).toEqual(['expected a JSON object, received an array']);
    expect(messagesOf(z.number(), null)).toEqual(['expected a number, received null']);
    expect(messagesOf(z.enum(['a', 'b']), 'c')).toEqual(['must be one of a, b']);
  });

  it('drops the NaN of a coerced text that is not a number', () => {
    expect(messagesOf(z.coerce.number(), 'abc')).toEqual(['expected a number']);
  });

  it('says bounds and whole numbers in words', () => {
    expect(messagesOf(z.string().min(1), '')).toEqual(['must not be empty']);
    expect(messagesOf(z.string().max(3), 'abcd')).toEqual(['must be at most 3 characters']);
    expect(messagesOf(z.array(z.string()).min(1), [])).toEqual(['must have at least 1 item']);
    expect(messagesOf(z.number().min(1), 0)).toEqual(['must be at least 1']);
    expect(messagesOf(z.number().positive(), 0)).toEqual(['must be greater than 0']);
    expect(messagesOf(z.number().int(), 1.5)).toEqual(['must be a whole number']);
  });

  it('lets a schema name its own type with expecting()', () => {
    const money = z.union([z.number(), z.string()], { error: expecting('a number of dollars') });
    expect(messagesOf(money, undefined)).toEqual(['required: a number of dollars']);
    expect(messagesOf(money, true)).toEqual(['expected a number of dollars, received a boolean']);
  });

  it('leaves a schema’s own message alone', () => {
    expect(messagesOf(z.string().regex(/^a/, 'must start with a'), 'b')).toEqual(['must start with a']);
  });
});
