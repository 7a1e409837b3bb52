import { describe, expect, it } from 'vitest';
import { describeWithServers } from '../../support/services.js';
import {
  expectAllowed,
  expectProblem,
  iso,
  SECOND,
  T0,
  uid,
  useEmbeddedGate,
  useServersGate,
  type Gate,
} from './support.js';

/** POST /extend (SPEC §4.2): long streams keep their hold and concurrency slot. */
function extendContract(gate: () => Gate) {
  async function setup() {
    const g = gate();
    const user = uid('u');
    const model = uid('m');
    const group = await g.modelGroup([model]);
    await g.limit({
      subjectType: 'user',
      subjectId: user,
      modelGroupId: group.id,
      metric: 'concurrency',
      limit: 1,
    });
    await g.limit({
      subjectType: 'user',
      subjectId: user,
      modelGroupId: group.id,
      metric: 'cost',
      window: 'daily',
      limit: 1,
    });
    return { g, user, model };
  }
  const extend = (g: Gate, requestId: string, ttlSeconds: number, now: number) =>
    g.admin('POST', '/extend', { requestId, ttlSeconds }, now);

  it('keeps the hold and the slot past the first expiry, and is idempotent', async () => {
    const { g, user, model } = await setup();
    const requestId = uid('r');
    expectAllowed(
      await g.reserve({ requestId, userId: user, model, estimatedCostUsd: 0.6, ttlSeconds: 10 }, T0),
    );
    for (let i = 0; i < 2; i++) {
      const extended = await extend(g, requestId, 60, T0 + 5 * SECOND);
      expect(extended.status, JSON.stringify(extended.body)).toBe(200);
      expect(extended.body).toEqual({
        requestId,
        reservation: { state: 'held', expiresAt: iso(T0 + 65 * SECOND) },
      });
    }
    const blocked = await g.reserve(
      { requestId: uid('r'), userId: user, model, estimatedCostUsd: 0.5 },
      T0 + 30 * SECOND,
    );
    expect(blocked.status).toBe(429);
    expect(blocked.body.buckets.find((b: { metric: string }) => b.metric === 'cost').held).toBe(0.6);
    expect((await g.settle({ requestId, costUsd: 0.2 }, T0 + 40 * SECOND)).status).toBe(200);
    expectAllowed(
      await g.reserve({ requestId: uid('r'), userId: user, model, estimatedCostUsd: 0.5 }, T0 + 41 * SECOND),
    );
  });

  it('answers 404 for an unknown request and 409 with the state for a closed one', async () => {
    const { g, user, model } = await setup();
    expectProblem(await extend(g, uid('r'), 60, T0), 404, 'not_found');
    const settled = uid('r');
    expectAllowed(await g.reserve({ requestId: settled, userId: user, model }, T0));
    expect((await g.settle({ requestId: settled, costUsd: 0.1 }, T0 + 1)).status).toBe(200);
    const afterSettle = await extend(g, settled, 60, T0 + 2);
    expectProblem(afterSettle, 409, 'reservation_closed');
    expect(afterSettle.body.state).toBe('settled');
    const lapsed = uid('r');
    expectAllowed(await g.reserve({ requestId: lapsed, userId: user, model, ttlSeconds: 5 }, T0 + 3));
    const late = await extend(g, lapsed, 60, T0 + 3 + 5 * SECOND);
    expectProblem(late, 409, 'reservation_closed');
    expect(late.body.state).toBe('expired');
  });

  it('refuses a ttl outside 1 s – 1 day, naming the field', async () => {
    const { g } = await setup();
    expectProblem(await extend(g, uid('r'), 86_401, T0), 400, 'validation_failed', 'ttlSeconds');
    expectProblem(await extend(g, uid('r'), 0, T0), 400, 'validation_failed', 'ttlSeconds');
  });
}

describeWithServers('/extend on Redis', () => extendContract(useServersGate()));
describe('/extend embedded', () => extendContract(useEmbeddedGate()));
