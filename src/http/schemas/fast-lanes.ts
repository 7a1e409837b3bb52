import type { z } from 'zod';
import { parseSpentUsd } from '../../domain/money.js';
import { PRINTABLE } from './group-fields.js';
import { BOUNDS, checkBody, reserveBody, settleBody } from './decisions.js';
import { metadataProblem } from './metadata.js';

/**
 * Fast lanes of the decision bodies. In a busy process zod's parse of /check's small body
 * cost ≈ 20 µs of server CPU per request (an A/B of two builds: 0.85× the CPU, 1.15× the
 * rate without it), the largest single cost quotagate's own code adds to /check. A lane
 * accepts the usual shapes of a body with plain checks and returns what the schema would;
 * anything it is not sure of — an amount as a string, a value out of range, a body of
 * another shape — it declines (null), and the zod schema decides and words the errors. A
 * lane never refuses. test/http/schemas/fast-lanes.test.ts parses seeded random bodies both ways:
 * every body a lane accepts, the schema accepts with an equal value.
 */
export type FastLane = (data: unknown) => object | null;

type Fields = Record<string, unknown>;

/** A lane's verdict on one field: the value the schema outputs, or DECLINE. */
const DECLINE = Symbol('decline');

const isFields = (data: unknown): data is Fields =>
  typeof data === 'object' && data !== null && !Array.isArray(data);

const text = (value: unknown, max: number): boolean =>
  typeof value === 'string' && value.length >= 1 && value.length <= max;

const printable = (max: number) => (value: unknown) =>
  text(value, max) && PRINTABLE.test(value as string) ? value : DECLINE;

const id = printable(BOUNDS.id);
const requestId = printable(BOUNDS.requestId);
const groupName = printable(BOUNDS.groupName);

const integer = (min: number, max: number) => (value: unknown) =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max ? value : DECLINE;

const tokens = integer(0, Number.MAX_SAFE_INTEGER);

/** Dollars as a JSON number → µ$; a string amount is the schema's to judge. */
function usd(value: unknown): unknown {
  if (typeof value !== 'number') return DECLINE;
  const parsed = parseSpentUsd(value);
  return parsed.ok ? parsed.micros : DECLINE;
}

function groups(value: unknown): unknown {
  if (!Array.isArray(value) || value.length > BOUNDS.groups) return DECLINE;
  for (const name of value) if (groupName(name) === DECLINE) return DECLINE;
  return [...(value as string[])];
}

/** Shallow copy of a JSON object (the body parser already refused `__proto__` keys) within the bounds. */
const metadata = (value: unknown): unknown =>
  isFields(value) && metadataProblem(value) === null ? { ...value } : DECLINE;

/** `.nullish()`: absent stays absent, null stays null, anything else is read. */
const nullish =
  (read: (value: unknown) => unknown) =>
  (value: unknown): unknown =>
    value === undefined || value === null ? value : read(value);

type Reader = (value: unknown) => unknown;

/**
 * A reader for every field of the schema's output, as a type: a field added to the schema
 * and not here fails the typecheck.
 */
export type Readers<S extends z.ZodObject> = { [K in keyof z.output<S>]-?: Reader };

/**
 * The schema's fields (from its shape, never a list of our own) read one by one; unknown
 * fields are dropped, as the schema does. Should the schema have a field with no reader (the
 * typecheck bypassed), the lane declines every body: zod decides, nothing is silently dropped.
 */
export function laneOf<S extends z.ZodObject>(
  schema: S,
  readers: NoInfer<Readers<S>>,
): (data: unknown) => z.output<S> | null {
  const names = Object.keys(schema.shape);
  const table = readers as Record<string, Reader>;
  if (!names.every((name) => Object.hasOwn(table, name))) return () => null;
  return (data) => {
    if (!isFields(data)) return null;
    const out: Fields = {};
    for (const name of names) {
      const value = data[name];
      const read = (table[name] as Reader)(value);
      if (read === DECLINE) return null;
      if (value !== undefined) out[name] = read;
    }
    return out as z.output<S>;
  };
}

export const demandReaders: Readers<typeof checkBody> = {
  userId: id,
  keyId: nullish(id),
  groups: nullish(groups),
  model: id,
  estimatedCostUsd: nullish(usd),
  estimatedInputTokens: nullish(tokens),
  estimatedOutputTokens: nullish(tokens),
  sessionId: nullish(id),
  sessionTtlSeconds: nullish(integer(1, BOUNDS.sessionTtlSeconds)),
};

export const checkLane = laneOf(checkBody, demandReaders);

export const reserveLane = laneOf(reserveBody, {
  ...demandReaders,
  requestId,
  ttlSeconds: nullish(integer(1, BOUNDS.holdTtlSeconds)),
});

export const settleLane = laneOf(settleBody, {
  requestId,
  costUsd: usd,
  inputTokens: nullish(tokens),
  outputTokens: nullish(tokens),
  metadata: nullish(metadata),
  userId: nullish(id),
  keyId: nullish(id),
  model: nullish(id),
  groups: nullish(groups),
});

/** The request schemas that have a lane. */
export const decisionLanes: ReadonlyMap<z.ZodType, FastLane> = new Map<z.ZodType, FastLane>([
  [checkBody, checkLane],
  [reserveBody, reserveLane],
  [settleBody, settleLane],
]);
