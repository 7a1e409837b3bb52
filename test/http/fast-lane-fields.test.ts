import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { checkBody, reserveBody, settleBody } from '../../src/http/schemas/decisions.js';
import {
  checkLane,
  demandReaders,
  laneOf,
  reserveLane,
  settleLane,
} from '../../src/http/schemas/fast-lanes.js';

/** A value every reader declines: not a string, a number, an object of fields or a list of names. */
const UNREADABLE = [[]];

const LANES = [
  { name: 'check', schema: checkBody, lane: checkLane, typical: { userId: 'u-42', model: 'm' } },
  {
    name: 'reserve',
    schema: reserveBody,
    lane: reserveLane,
    typical: { userId: 'u-42', model: 'm', requestId: 'r-1' },
  },
  { name: 'settle', schema: settleBody, lane: settleLane, typical: { requestId: 'r-1', costUsd: 0.5 } },
] as const;

/** The fast lanes read the fields of their schemas, never a list of their own. */
describe('fast lane fields come from the schemas', () => {
  for (const { name, schema, lane, typical } of LANES) {
    it(`${name}: reads every field of its schema`, () => {
      expect(lane(typical)).toStrictEqual(z.parse(schema, typical));
      for (const field of Object.keys(schema.shape)) {
        // A field the lane read would decline; one it skipped would come out dropped.
        expect({ field, lane: lane({ ...typical, [field]: UNREADABLE }) }).toEqual({ field, lane: null });
      }
    });
  }

  describe('a field added to a schema but not to its lane', () => {
    const widened = checkBody.extend({ priority: z.number().int().nullish() });
    // @ts-expect-error `priority` has no reader: the typecheck names it (npx tsc --noEmit)
    const lane = laneOf(widened, demandReaders);

    it('makes the lane decline every body, so zod reads it and nothing is dropped', () => {
      const body = { userId: 'u-42', model: 'm', priority: 3 };
      expect(lane(body)).toBeNull();
      expect(lane({ userId: 'u-42', model: 'm' })).toBeNull();
      expect(z.parse(widened, body)).toEqual(body);
    });

    it('is read once the lane has a reader for it', () => {
      const read = laneOf(widened, { ...demandReaders, priority: (value: unknown) => value });
      expect(read({ userId: 'u-42', model: 'm', priority: 3 })).toEqual({
        userId: 'u-42',
        model: 'm',
        priority: 3,
      });
    });
  });
});
