import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decide } from '../../src/domain/decide.js';
import { buildDecisionResponse, failOpenResponse, type DecisionBody } from '../../src/domain/decision.js';
import { decisionReply } from '../../src/http/schemas/decisions.js';
import type { Assignable } from '../../src/http/schemas/same-type.js';
import { bucket, ms, USD } from '../domain/fixtures.js';

const NOW = ms('2027-01-04T12:00:00Z');

/** The decision reply is serialized without zod: its type and its schema are held together. */
describe('the decision reply and its schema', () => {
  it('a built reply, admitted, refused or failed open, is exactly what the schema describes', () => {
    const cost = bucket({ metric: 'cost', limit: 1 * USD, key: 'cost' });
    const requests = bucket({ metric: 'requests', limit: 1, key: 'requests', shadow: true });
    const states = new Map([
      ['cost', { used: 1 * USD, held: 0 }],
      ['requests', { used: 0, held: 0 }],
    ]);
    const bodies: DecisionBody[] = [
      buildDecisionResponse(decide([cost, requests], states, { estimateMicros: 1 }, NOW)).body,
      buildDecisionResponse(decide([requests], states, { estimateMicros: 0 }, NOW), {
        requestId: 'r-1',
        reservation: { state: 'held', expiresAt: NOW + 60_000 },
      }).body,
      failOpenResponse('r-2').body,
    ];
    // zod drops keys it does not know: a field the schema lacks would be missing here.
    for (const body of bodies) expect(z.parse(decisionReply, body)).toStrictEqual(body);
  });

  it('a field on one side only is a type error', () => {
    type Reply = z.output<typeof decisionReply>;
    type Drifted = DecisionBody & { priority: number };
    // @ts-expect-error the schema's type lacks `priority` (npx tsc --noEmit fails if it is not caught)
    type Caught = Assignable<Reply, Drifted>;
    const caught: Caught | null = null;
    expect(caught).toBeNull();
  });
});
