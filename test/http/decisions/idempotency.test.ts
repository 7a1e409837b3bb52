import { describe, expect, it } from 'vitest';
import { describeWithServers } from '../../support/services.js';
import {
  MINUTE,
  SECOND,
  T0,
  bucketOf,
  expectAllowed,
  expectProblem,
  keyOf,
  uid,
  useServersGate,
  type Gate,
} from './support.js';

describeWithServers('/reserve idempotency (SPEC §4.5)', () => {
  const gate = useServersGate();

  /** A user with a $1 daily cost cap, 2 requests a minute, 5 sessions a day and 3 slots. */
  async function user(g: Gate) {
    const id = uid('u');
    const model = uid('model');
    await g.limit({ subjectType: 'user', subjectId: id, metric: 'cost', window: 'daily', limit: 1 });
    await g.limit({ subjectType: 'user', subjectId: id, metric: 'requests', window: '1m', limit: 2 });
    await g.limit({ subjectType: 'user', subjectId: id, metric: 'sessions', window: 'daily', limit: 5 });
    await g.limit({ subjectType: 'user', subjectId: id, metric: 'concurrency', limit: 3 });
    const body = (extra: Record<string, unknown> = {}) => ({
      userId: id,
      model,
      estimatedCostUsd: 0.25,
      sessionId: 's-1',
      requestId: uid('r'),
      ...extra,
    });
    const state = async (now: number) => {
      const usage = await g.usage({ userId: id, model }, now);
      return {
        cost: bucketOf(usage.body, keyOf('user', id, null, 'cost', 'daily')),
        requests: bucketOf(usage.body, keyOf('user', id, null, 'requests', '1m')),
        sessions: bucketOf(usage.body, keyOf('user', id, null, 'sessions', 'daily')),
        slots: bucketOf(usage.body, keyOf('user', id, null, 'concurrency', 'concurrent')),
      };
    };
    return { id, model, body, state };
  }

  describe('a retried reserve', () => {
    it('returns the same reservation and holds, counts and admits nothing twice', async () => {
      const g = gate();
      const u = await user(g);
      const body = u.body();
      const first = await g.reserve(body, T0);
      expectAllowed(first);
      const again = await g.reserve(body, T0 + SECOND);
      expectAllowed(again);
      expect(again.body.reservation).toEqual(first.body.reservation);
      expect(again.body.requestId).toBe(body.requestId);
      expect(bucketOf(again.body, keyOf('user', u.id, null, 'cost', 'daily'))).toMatchObject({ held: 0.25 });
      const s = await u.state(T0 + 2 * SECOND);
      expect(s.cost).toMatchObject({ held: 0.25 });
      expect(s.requests).toMatchObject({ used: 1 });
      expect(s.sessions).toMatchObject({ used: 1 });
      expect(s.slots).toMatchObject({ used: 1 });
    });

    it('answers a different body with 409 idempotency_conflict and records nothing', async () => {
      const g = gate();
      const u = await user(g);
      const body = u.body();
      await g.reserve(body, T0);
      for (const changed of [
        { ...body, estimatedCostUsd: 0.3 },
        { ...body, sessionId: 's-2' },
        { ...body, ttlSeconds: 60 },
        { ...body, keyId: uid('k') },
      ]) {
        expectProblem(await g.reserve(changed, T0 + SECOND), 409, 'idempotency_conflict');
      }
      const s = await u.state(T0 + 2 * SECOND);
      expect(s.cost).toMatchObject({ held: 0.25 });
      expect(s.requests).toMatchObject({ used: 1 });
      expect(s.sessions).toMatchObject({ used: 1 });
    });

    it('answers the same request id from another user with 409, recording nothing for that user', async () => {
      const g = gate();
      const [a, b] = [await user(g), await user(g)];
      const requestId = uid('r');
      expectAllowed(await g.reserve(a.body({ requestId }), T0));
      expectProblem(await g.reserve(b.body({ requestId }), T0 + SECOND), 409, 'idempotency_conflict');
      const s = await b.state(T0 + 2 * SECOND);
      expect(s.cost).toMatchObject({ held: 0 });
      expect(s.requests).toMatchObject({ used: 0 });
      expect(s.sessions).toMatchObject({ used: 0 });
      expect(s.slots).toMatchObject({ used: 0 });
      expect((await a.state(T0 + 2 * SECOND)).cost).toMatchObject({ held: 0.25 });
    });

    it('answers 409 with the state once the reservation was settled or released', async () => {
      const g = gate();
      const u = await user(g);
      const settled = u.body();
      await g.reserve(settled, T0);
      await g.settle({ requestId: settled.requestId, costUsd: 0.2 }, T0 + SECOND);
      const afterSettle = await g.reserve(settled, T0 + 2 * SECOND);
      expectProblem(afterSettle, 409, 'reservation_closed');
      expect(afterSettle.body.state).toBe('settled');

      const released = u.body({ sessionId: 's-2' });
      await g.reserve(released, T0 + 3 * SECOND);
      await g.release(released.requestId, T0 + 4 * SECOND);
      const afterRelease = await g.reserve(released, T0 + 5 * SECOND);
      expectProblem(afterRelease, 409, 'reservation_closed');
      expect(afterRelease.body.state).toBe('released');
      expect((await u.state(T0 + 6 * SECOND)).cost).toMatchObject({ used: 0.2, held: 0 });
    });

    it('answers 409 with state expired once the hold lapsed, and the settle still charges', async () => {
      const g = gate();
      const u = await user(g);
      const body = u.body({ ttlSeconds: 30 });
      await g.reserve(body, T0);
      const late = await g.reserve(body, T0 + 30 * SECOND);
      expectProblem(late, 409, 'reservation_closed');
      expect(late.body.state).toBe('expired');
      const s = await u.state(T0 + 31 * SECOND);
      expect(s.cost).toMatchObject({ held: 0 });
      expect(s.slots).toMatchObject({ used: 0 });
      expect((await g.settle({ requestId: body.requestId, costUsd: 0.1 }, T0 + MINUTE)).status).toBe(200);
      expect((await u.state(T0 + MINUTE)).cost).toMatchObject({ used: 0.1 });
    });
  });

  describe('a refused reserve', () => {
    it('is not remembered: the same request id is judged afresh', async () => {
      const g = gate();
      const u = await user(g);
      await g.reserve(u.body({ sessionId: null }), T0);
      await g.reserve(u.body({ sessionId: null }), T0 + 1);
      const body = u.body({ sessionId: null });
      const refused = await g.reserve(body, T0 + 2);
      expect(refused.status).toBe(429);
      const retried = await g.reserve(body, T0 + MINUTE);
      expectAllowed(retried);
      expect(retried.body.reservation).toMatchObject({ state: 'held' });
    });

    it('does not keep the request id from another user', async () => {
      const g = gate();
      const [a, b] = [await user(g), await user(g)];
      const requestId = uid('r');
      expect((await g.reserve(a.body({ requestId, estimatedCostUsd: 2 }), T0)).status).toBe(429);
      expectAllowed(await g.reserve(b.body({ requestId }), T0 + 1));
    });
  });
});
