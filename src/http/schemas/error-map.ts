import type { z } from 'zod';

/**
 * The messages of request validation (src/http/validation.ts passes this map to every parse):
 * a missing field is "required: <what>", a wrong type "expected <what>, received <what came>",
 * bounds are said in words. A schema's own `error` wins over this map; issues it does not
 * phrase keep zod's wording.
 */
type Issue = z.core.$ZodRawIssue;

const TYPE_PHRASES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a JSON object',
  array: 'an array',
  null: 'null',
};

const phraseOf = (type: string) => TYPE_PHRASES[type] ?? type;

function received(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'an array';
  if (typeof input === 'boolean') return 'a boolean';
  if (typeof input === 'number' && !Number.isFinite(input)) return String(input);
  return phraseOf(typeof input);
}

const oneOf = (values: readonly unknown[]) =>
  values.length === 1 ? JSON.stringify(values[0]) : `one of ${values.map((v) => String(v)).join(', ')}`;

/** What a union takes, from the first issue of each branch: "a number or a string". */
function unionPhrase(branches: readonly (readonly z.core.$ZodIssue[])[]): string | undefined {
  const phrases = new Set<string>();
  for (const [first] of branches) {
    if (first?.code === 'invalid_type') phrases.add(phraseOf(first.expected));
    else if (first?.code === 'invalid_value') phrases.add(first.values.map((v) => String(v)).join(', '));
    else return undefined;
  }
  return phrases.size > 0 ? [...phrases].join(' or ') : undefined;
}

/** "required: <what>" when absent, else "expected <what>, received <type>". */
export function typeMessage(what: string, input: unknown): string {
  if (input === undefined) return `required: ${what}`;
  // A coerced query or path value that is not a number: its text is gone, "received NaN" only confuses.
  if (typeof input === 'number' && Number.isNaN(input)) return `expected ${what}`;
  return `expected ${what}, received ${received(input)}`;
}

/** A schema-level `error` naming what the field takes, e.g. `{ error: expecting('a decimal string') }`. */
export const expecting =
  (what: string) =>
  (issue: Issue): string | undefined =>
    issue.code === 'invalid_type' || issue.code === 'invalid_union'
      ? typeMessage(what, issue.input)
      : undefined;

function sizeMessage(issue: Issue & { code: 'too_small' | 'too_big' }): string | undefined {
  const small = issue.code === 'too_small';
  const bound = small ? issue.minimum : issue.maximum;
  const least = small ? 'at least' : 'at most';
  switch (issue.origin) {
    case 'string':
      if (small && bound === 1) return 'must not be empty';
      return `must be ${least} ${String(bound)} characters`;
    case 'array':
      return `must have ${least} ${String(bound)} item${bound === 1 ? '' : 's'}`;
    case 'number':
    case 'int':
      if (issue.inclusive === false) return `must be ${small ? 'greater' : 'less'} than ${String(bound)}`;
      return `must be ${least} ${String(bound)}`;
    default:
      return undefined;
  }
}

export const apiErrorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.expected === 'int' && typeof issue.input === 'number') return 'must be a whole number';
      // Fastify hands an absent body to the schema as null.
      if (issue.expected === 'object' && issue.input === null && (issue.path ?? []).length === 0) {
        return 'required: a JSON object';
      }
      return typeMessage(phraseOf(issue.expected), issue.input);
    case 'invalid_union': {
      const what = unionPhrase(issue.errors);
      return what === undefined ? undefined : typeMessage(what, issue.input);
    }
    case 'invalid_value':
      return issue.input === undefined
        ? `required: ${oneOf(issue.values)}`
        : `must be ${oneOf(issue.values)}`;
    case 'too_small':
    case 'too_big':
      return sizeMessage(issue);
    case 'invalid_format':
      if (issue.format === 'datetime') return 'must be an RFC 3339 date-time, e.g. 2027-01-04T00:00:00Z';
      return undefined;
    default:
      return undefined;
  }
};
