import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { checkBody, reserveBody, settleBody } from '../../../src/http/schemas/decisions.js';
import { checkLane, decisionLanes, reserveLane, settleLane } from '../../../src/http/schemas/fast-lanes.js';
import { createValidatorCompiler, RequestValidationError } from '../../../src/http/validation.js';
import { Prng } from '../../chaos/prng.js';

/** Values at and around every bound of the decision bodies, valid and not. */
const STRINGS = [
  '',
  'a',
  'u-42',
  'claude-opus-4-1',
  ' padded ',
  'x'.repeat(40),
  'x'.repeat(41),
  'x'.repeat(100),
  'x'.repeat(101),
  'x'.repeat(200),
  'x'.repeat(201),
  'x'.repeat(256),
  'x'.repeat(257),
  '😀'.repeat(128),
  '😀'.repeat(129),
  'bell\u0007',
  'zero\u200bwidth',
  'lone\ud800',
  'tab\there',
  'nul\u0000',
  'esc\u001b',
  '0.02',
  '1e3',
  '-1',
  '0.0000001',
];
const NUMBERS = [
  0,
  -0,
  1,
  -1,
  2,
  0.5,
  0.02,
  0.0173,
  1.0000001,
  1e-7,
  123456.789,
  86_400,
  86_401,
  31_536_000,
  31_536_001,
  Number.MAX_SAFE_INTEGER,
  2 ** 53,
  9_007_199_254.74,
  9_007_199_255,
  1e21,
  1.5,
  0.30000000000000004,
  0.0000005,
  -0.0000001,
  2.5e-7,
];
/** Metadata past its bounds (src/http/schemas/metadata.ts): a lane must not take what zod refuses. */
const deep = (depth: number): object => (depth <= 1 ? { leaf: 1 } : { n: deep(depth - 1) });
const OTHERS = [
  null,
  true,
  false,
  {},
  { a: 1 },
  [],
  ['pro'],
  [1],
  [''],
  ['x'.repeat(101)],
  ['pro\u0000'],
  { note: 'a\u0000' },
  { ['k\u0007']: 1 },
  { note: 'line\nbreak' },
  deep(16),
  deep(17),
];
const GROUP_LISTS = [
  Array.from({ length: 50 }, (_, i) => `g${i}`),
  Array.from({ length: 51 }, (_, i) => `g${i}`),
];

const FIELDS = [
  'userId',
  'keyId',
  'groups',
  'model',
  'estimatedCostUsd',
  'estimatedInputTokens',
  'estimatedOutputTokens',
  'sessionId',
  'sessionTtlSeconds',
  'requestId',
  'ttlSeconds',
  'costUsd',
  'inputTokens',
  'outputTokens',
  'metadata',
  'unknownField',
];

function valueOf(prng: Prng): unknown {
  const roll = prng.next();
  if (roll < 0.45) return prng.pick(STRINGS);
  if (roll < 0.8) return prng.pick(NUMBERS);
  if (roll < 0.95) return prng.pick(OTHERS);
  return prng.pick(GROUP_LISTS);
}

/** A body shaped like `typical` with some fields replaced, dropped or added at random. */
function bodyOf(prng: Prng, typical: Record<string, unknown>): unknown {
  if (prng.next() < 0.02) return prng.pick([null, [], 'body', 5, true]);
  const body: Record<string, unknown> = { ...typical };
  for (const field of FIELDS) {
    const roll = prng.next();
    if (roll < 0.08) body[field] = valueOf(prng);
    else if (roll < 0.12) delete body[field];
  }
  return body;
}

const LANES = [
  {
    name: 'check',
    schema: checkBody,
    lane: checkLane,
    typical: { userId: 'u-42', keyId: 'k-9', model: 'claude-opus-4-1', estimatedCostUsd: 0.02 },
  },
  {
    name: 'reserve',
    schema: reserveBody,
    lane: reserveLane,
    typical: {
      userId: 'u-42',
      groups: ['pro'],
      model: 'claude-opus-4-1',
      estimatedCostUsd: 0.02,
      estimatedInputTokens: 1200,
      sessionId: 's-1',
      requestId: 'r-1',
      ttlSeconds: 60,
    },
  },
  {
    name: 'settle',
    schema: settleBody,
    lane: settleLane,
    typical: { requestId: 'r-1', costUsd: 0.0173, inputTokens: 900, outputTokens: 300, metadata: { a: 1 } },
  },
] as const;

describe('fast lanes of the decision bodies', () => {
  for (const { name, schema, lane, typical } of LANES) {
    it(`${name}: every body the lane accepts, the schema accepts with an equal value`, () => {
      // Seeded (test/chaos/prng.ts), so a failing body can be found again.
      const prng = new Prng(20261205);
      let accepted = 0;
      let declined = 0;
      for (let i = 0; i < 20_000; i++) {
        const body = bodyOf(prng, typical);
        const fast = lane(body);
        if (fast === null) {
          declined++;
          continue;
        }
        accepted++;
        const parsed = z.safeParse(schema, body);
        expect({ body, accepted: parsed.success }).toEqual({ body, accepted: true });
        expect(fast).toStrictEqual(parsed.data);
      }
      // Both outcomes occur often, or the property above says little.
      expect(accepted).toBeGreaterThan(2_000);
      expect(declined).toBeGreaterThan(2_000);
    });

    it(`${name}: takes the usual body`, () => {
      expect(lane(typical)).toStrictEqual(z.parse(schema, typical));
    });
  }

  it('turns dollars into µ$ as the schema does', () => {
    expect(checkLane({ userId: 'u', model: 'm', estimatedCostUsd: 0.0173 })).toEqual({
      userId: 'u',
      model: 'm',
      estimatedCostUsd: 17_300,
    });
  });

  it('leaves string amounts, bad values and unknown shapes to the schema', () => {
    expect(checkLane({ userId: 'u', model: 'm', estimatedCostUsd: '0.02' })).toBeNull();
    expect(checkLane({ userId: 'u', model: 'm', estimatedCostUsd: -0.0000001 })).toBeNull();
    expect(reserveLane({ userId: 'u', model: 'm', requestId: 'r\u0000' })).toBeNull();
    expect(checkLane({ userId: 'u', model: 'm', groups: ['pro\u0000'] })).toBeNull();
    expect(settleLane({ requestId: 'r', costUsd: 0, metadata: { note: 'a\u0000' } })).toBeNull();
    expect(checkLane({ userId: '', model: 'm' })).toBeNull();
    expect(reserveLane({ userId: 'u', model: 'm', requestId: 'r', ttlSeconds: 86_401 })).toBeNull();
    expect(settleLane({ requestId: 'r' })).toBeNull();
    expect(settleLane([])).toBeNull();
  });
});

describe('request validation with lanes', () => {
  const validate = (schema: z.ZodType, body: unknown) =>
    createValidatorCompiler(decisionLanes)({ schema, method: 'POST', url: '/', httpPart: 'body' })(body) as {
      value?: unknown;
      error?: unknown;
    };

  it('answers what the schema would, through a lane or not', () => {
    const body = { userId: 'u-42', model: 'm', estimatedCostUsd: '0.02', extra: 1 };
    expect(validate(checkBody, body)).toEqual({
      value: { userId: 'u-42', model: 'm', estimatedCostUsd: 20_000 },
    });
    expect(validate(checkBody, { ...body, estimatedCostUsd: 0.02 })).toEqual({
      value: { userId: 'u-42', model: 'm', estimatedCostUsd: 20_000 },
    });
  });

  it('words a refusal with the API error map, naming the field', () => {
    const { error } = validate(checkBody, { model: 'm', estimatedCostUsd: -0.0000001 });
    expect(error).toBeInstanceOf(RequestValidationError);
    expect((error as RequestValidationError).fieldErrors()).toEqual([
      { field: 'userId', message: 'required: a string' },
      { field: 'estimatedCostUsd', message: 'must be ≥ 0' },
    ]);
  });
});
