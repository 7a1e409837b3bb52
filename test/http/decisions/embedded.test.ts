import { describe, expect, it } from 'vitest';
import {
  HOUR,
  MINUTE,
  SECOND,
  T0,
  bucketOf,
  expectAllowed,
  expectProblem,
  expectRefusedWithRetry,
  iso,
  keyOf,
  ledgerRow,
  uid,
  useEmbeddedGate,
  type Gate,
} from './support.js';

/** The same contract on embedded mode: PGlite and the in-process counter store. */
describe('decisions in embedded mode', () => {
  const gate = useEmbeddedGate();

  async function user(g: Gate) {
    const id = uid('u');
    const model = uid('model');
    const opus = await g.modelGroup([model]);
    await g.limit({
      subjectType: 'user',
      subjectId: id,
      modelGroupId: opus.id,
      metric: 'cost',
      window: '5h',
      limit: 1,
    });
    await g.limit({ subjectType: 'user', subjectId: id, metric: 'requests', window: '1h', limit: 3 });
    await g.limit({ subjectType: 'user', subjectId: id, metric: 'sessions', window: '20h', limit: 1 });
    await g.limit({ subjectType: 'user', subjectId: id, metric: 'concurrency', limit: 2 });
    const keys = {
      cost: keyOf('user', id, opus.id, 'cost', '5h'),
      requests: keyOf('user', id, null, 'requests', '1h'),
      sessions: keyOf('user', id, null, 'sessions', '20h'),
      slots: keyOf('user', id, null, 'concurrency', 'concurrent'),
    };
    const state = async (now: number) => {
      const body = (await g.usage({ userId: id, model }, now)).body;
      return {
        cost: bucketOf(body, keys.cost),
        requests: bucketOf(body, keys.requests),
        sessions: bucketOf(body, keys.sessions),
        slots: bucketOf(body, keys.slots),
      };
    };
    return { id, model, opus, keys, state };
  }

  describe('admitted', () => {
    it('records nothing on /check, and holds, counts, admits and takes a slot on /reserve', async () => {
      const g = gate();
      const u = await user(g);
      expectAllowed(
        await g.check({ userId: u.id, model: u.model, estimatedCostUsd: 0.5, sessionId: 's-1' }, T0),
      );
      const requestId = uid('r');
      const a = await g.reserve(
        { userId: u.id, model: u.model, estimatedCostUsd: 0.5, sessionId: 's-1', requestId },
        T0,
      );
      expectAllowed(a);
      expect(a.body.reservation).toEqual({ state: 'held', expiresAt: iso(T0 + 600 * SECOND) });
      const s = await u.state(T0 + 1);
      expect(s.cost).toMatchObject({ used: 0, held: 0.5 });
      expect(s.requests).toMatchObject({ used: 1 });
      expect(s.sessions).toMatchObject({ used: 1 });
      expect(s.slots).toMatchObject({ used: 1 });
    });

    it('settles the frozen buckets into the ledger before answering, once', async () => {
      const g = gate();
      const u = await user(g);
      const requestId = uid('r');
      await g.reserve({ userId: u.id, model: u.model, estimatedCostUsd: 0.1, requestId }, T0);
      const settled = await g.settle({ requestId, costUsd: 1.2 }, T0 + SECOND);
      expect(settled.body).toMatchObject({
        duplicate: false,
        buckets: [u.keys.cost],
        countedInUserGlobal: false,
      });
      expect(await ledgerRow(g, requestId)).toMatchObject({ costMicros: 1_200_000, status: 'settled' });
      expect((await g.settle({ requestId, costUsd: 1.2 }, T0 + 2 * SECOND)).body.duplicate).toBe(true);
      expectProblem(await g.settle({ requestId, costUsd: 1 }, T0 + 2 * SECOND), 409, 'idempotency_conflict');
      const s = await u.state(T0 + 3 * SECOND);
      expect(s.cost).toMatchObject({ used: 1.2, held: 0, remaining: 0 });
      expect(s.slots).toMatchObject({ used: 0 });
      expect((await g.check({ userId: u.id, model: u.model }, T0 + 4 * SECOND)).status).toBe(429);
    });

    it('releases the hold and slot and keeps the request and session counted', async () => {
      const g = gate();
      const u = await user(g);
      const requestId = uid('r');
      await g.reserve(
        { userId: u.id, model: u.model, estimatedCostUsd: 0.5, sessionId: 's-1', requestId },
        T0,
      );
      expect((await g.release(requestId, T0 + SECOND)).body).toEqual({ requestId, state: 'released' });
      expect((await g.release(requestId, T0 + 2 * SECOND)).status).toBe(200);
      const s = await u.state(T0 + 3 * SECOND);
      expect(s).toMatchObject({
        cost: { held: 0 },
        slots: { used: 0 },
        requests: { used: 1 },
        sessions: { used: 1 },
      });
      expect((await g.settle({ requestId, costUsd: 0.2 }, T0 + 4 * SECOND)).status).toBe(200);
      expect((await u.state(T0 + 5 * SECOND)).cost).toMatchObject({ used: 0.2 });
      expectProblem(await g.release(requestId, T0 + 6 * SECOND), 409, 'reservation_closed');
    });

    it('settles directly from userId and model, counting one request', async () => {
      const g = gate();
      const u = await user(g);
      expectProblem(
        await g.settle({ requestId: uid('r'), model: u.model, costUsd: 0.1 }, T0),
        400,
        'validation_failed',
        'userId',
      );
      await g.settle({ requestId: uid('r'), userId: u.id, model: u.model, costUsd: 0.1 }, T0);
      expect(await u.state(T0 + 1)).toMatchObject({ cost: { used: 0.1 }, requests: { used: 1 } });
    });
  });

  describe('refused', () => {
    it('retries a rolling requests log to the millisecond', async () => {
      const g = gate();
      const u = await user(g);
      for (const at of [T0, T0 + 1000, T0 + 2000]) {
        const requestId = uid('r');
        expectAllowed(await g.reserve({ userId: u.id, model: u.model, requestId }, at));
        await g.release(requestId, at);
      }
      expectRefusedWithRetry(await g.check({ userId: u.id, model: u.model }, T0 + 5000), HOUR - 5000);
      expectAllowed(await g.check({ userId: u.id, model: u.model }, T0 + HOUR));
    });

    it('records nothing when one bucket refuses', async () => {
      const g = gate();
      const u = await user(g);
      const a = await g.reserve(
        { userId: u.id, model: u.model, estimatedCostUsd: 2, sessionId: 's-1', requestId: uid('r') },
        T0,
      );
      expect(a.status).toBe(429);
      const s = await u.state(T0 + 1);
      for (const b of Object.values(s)) expect(b).toMatchObject({ used: 0, held: 0 });
    });

    it('passes a session reconnect at the cap and refuses a new one', async () => {
      const g = gate();
      const u = await user(g);
      await g.reserve({ userId: u.id, model: u.model, sessionId: 's-1', requestId: uid('r') }, T0);
      expectAllowed(
        await g.reserve({ userId: u.id, model: u.model, sessionId: 's-1', requestId: uid('r') }, T0 + MINUTE),
      );
      const refused = await g.reserve(
        { userId: u.id, model: u.model, sessionId: 's-2', requestId: uid('r') },
        T0 + MINUTE,
      );
      expectRefusedWithRetry(refused, 20 * HOUR - MINUTE);
      expect((await u.state(T0 + 2 * MINUTE)).sessions).toMatchObject({ used: 1 });
    });

    it('refuses at the concurrency cap until the earliest hold expires', async () => {
      const g = gate();
      const u = await user(g);
      await g.reserve({ userId: u.id, model: u.model, requestId: uid('r'), ttlSeconds: 30 }, T0);
      await g.reserve({ userId: u.id, model: u.model, requestId: uid('r'), ttlSeconds: 60 }, T0);
      expectRefusedWithRetry(await g.check({ userId: u.id, model: u.model }, T0 + 10 * SECOND), 20 * SECOND);
      expectAllowed(await g.check({ userId: u.id, model: u.model }, T0 + 30 * SECOND));
    });
  });

  describe('idempotency', () => {
    it('replays the same reserve, refuses another body and a closed reservation with 409', async () => {
      const g = gate();
      const u = await user(g);
      const body = {
        userId: u.id,
        model: u.model,
        estimatedCostUsd: 0.25,
        requestId: uid('r'),
        ttlSeconds: 60,
      };
      const first = await g.reserve(body, T0);
      expect((await g.reserve(body, T0 + 1)).body.reservation).toEqual(first.body.reservation);
      expect((await u.state(T0 + 2)).cost).toMatchObject({ held: 0.25 });
      expectProblem(await g.reserve({ ...body, estimatedCostUsd: 0.3 }, T0 + 3), 409, 'idempotency_conflict');
      const expired = await g.reserve(body, T0 + MINUTE);
      expectProblem(expired, 409, 'reservation_closed');
      expect(expired.body.state).toBe('expired');
      await g.release(body.requestId, T0 + MINUTE);
      expect((await g.reserve(body, T0 + MINUTE + 1)).body.state).toBe('released');
    });

    it('judges a refused reserve afresh', async () => {
      const g = gate();
      const u = await user(g);
      const body = { userId: u.id, model: u.model, estimatedCostUsd: 0.75, requestId: uid('r') };
      await g.settle({ requestId: uid('r'), userId: u.id, model: u.model, costUsd: 0.5 }, T0);
      expect((await g.reserve(body, T0 + 1)).status).toBe(429);
      await g.reset(
        { subjectType: 'user', subjectId: u.id, modelGroupId: u.opus.id, metric: 'cost', window: '5h' },
        T0 + 2,
      );
      expectAllowed(await g.reserve(body, T0 + 3));
    });
  });
});
