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
  ledgerRow,
  uid,
  useServersGate,
  type Gate,
} from './support.js';

describeWithServers('/settle and /release', () => {
  const gate = useServersGate();

  /** A user with a $1 daily cost cap, 10 requests a day and 2 concurrent reservations, all models. */
  async function user(g: Gate) {
    const id = uid('u');
    const model = uid('model');
    await g.limit({ subjectType: 'user', subjectId: id, metric: 'cost', window: 'daily', limit: 1 });
    await g.limit({ subjectType: 'user', subjectId: id, metric: 'requests', window: 'daily', limit: 10 });
    await g.limit({ subjectType: 'user', subjectId: id, metric: 'concurrency', limit: 2 });
    const keys = {
      cost: keyOf('user', id, null, 'cost', 'daily'),
      requests: keyOf('user', id, null, 'requests', 'daily'),
      slots: keyOf('user', id, null, 'concurrency', 'concurrent'),
    };
    const state = async (now: number) => {
      const usage = await g.usage({ userId: id, model }, now);
      expect(usage.status).toBe(200);
      return {
        cost: bucketOf(usage.body, keys.cost),
        requests: bucketOf(usage.body, keys.requests),
        slots: bucketOf(usage.body, keys.slots),
      };
    };
    return { id, model, keys, state };
  }

  describe('settle', () => {
    it('frees the hold, charges the cost and keeps the request counted', async () => {
      const g = gate();
      const u = await user(g);
      const requestId = uid('r');
      expectAllowed(await g.reserve({ userId: u.id, model: u.model, estimatedCostUsd: 0.5, requestId }, T0));
      const settled = await g.settle({ requestId, costUsd: 0.0173, metadata: { tokens: 1234 } }, T0 + SECOND);
      expect(settled.status).toBe(200);
      expect(settled.body).toEqual({
        requestId,
        status: 'settled',
        duplicate: false,
        costUsd: 0.0173,
        countedInUserGlobal: true,
        countedInKeyGlobal: false,
        buckets: [u.keys.cost],
      });
      const s = await u.state(T0 + 2 * SECOND);
      expect(s.cost).toMatchObject({ used: 0.0173, held: 0, remaining: 0.9827 });
      expect(s.requests).toMatchObject({ used: 1 });
      expect(s.slots).toMatchObject({ used: 0 });
    });

    it('has the ledger row committed when the 200 arrives', async () => {
      const g = gate();
      const u = await user(g);
      const requestId = uid('r');
      await g.reserve({ userId: u.id, model: u.model, estimatedCostUsd: 0.5, requestId }, T0);
      expect(
        (await g.settle({ requestId, costUsd: '0.123456', metadata: { a: 1 } }, T0 + SECOND)).status,
      ).toBe(200);
      expect(await ledgerRow(g, requestId)).toMatchObject({
        requestId,
        userId: u.id,
        keyId: null,
        model: u.model,
        modelGroupId: null,
        costMicros: 123_456,
        status: 'settled',
        buckets: [u.keys.cost, u.keys.requests],
        reservedAt: new Date(T0),
        settledAt: new Date(T0 + SECOND),
        metadata: { a: 1 },
      });
    });

    it('charges the buckets frozen at reserve time, whatever the config became', async () => {
      const g = gate();
      const id = uid('u');
      const model = uid('model');
      const five = await g.limit({
        subjectType: 'user',
        subjectId: id,
        metric: 'cost',
        window: '5h',
        limit: 10,
      });
      const requestId = uid('r');
      expectAllowed(await g.reserve({ userId: id, model, estimatedCostUsd: 1, requestId }, T0));
      // The operator replaces the 5h cap by a daily one, and moves the model into a group with its own cap.
      expect((await g.admin('DELETE', `/admin/limits/${five.id}`, undefined, T0 + 1)).status).toBe(204);
      await g.limit(
        { subjectType: 'user', subjectId: id, metric: 'cost', window: 'daily', limit: 2 },
        T0 + 1,
      );
      const opus = await g.modelGroup([model]);
      await g.limit(
        {
          subjectType: 'user',
          subjectId: id,
          modelGroupId: opus.id,
          metric: 'cost',
          window: 'daily',
          limit: 3,
        },
        T0 + 1,
      );
      const settled = await g.settle({ requestId, costUsd: 1.5 }, T0 + MINUTE);
      expect(settled.body).toMatchObject({
        buckets: [keyOf('user', id, null, 'cost', '5h')],
        countedInUserGlobal: true,
      });
      const usage = await g.usage({ userId: id, model }, T0 + 2 * MINUTE);
      expect(bucketOf(usage.body, keyOf('user', id, opus.id, 'cost', 'daily'))).toMatchObject({ used: 0 });
      const everything = await g.usage({ userId: id }, T0 + 2 * MINUTE);
      expect(bucketOf(everything.body, keyOf('user', id, null, 'cost', 'daily'))).toMatchObject({ used: 0 });
      // Bringing the 5h cap back shows the spend where it was charged.
      await g.limit(
        { subjectType: 'user', subjectId: id, metric: 'cost', window: '5h', limit: 10 },
        T0 + 3 * MINUTE,
      );
      const restored = await g.usage({ userId: id }, T0 + 3 * MINUTE);
      expect(bucketOf(restored.body, keyOf('user', id, null, 'cost', '5h'))).toMatchObject({
        used: 1.5,
        held: 0,
      });
    });

    it('charges the frozen cap and window even when the cap changes under the reservation', async () => {
      const g = gate();
      const u = await user(g);
      const requestId = uid('r');
      await g.reserve({ userId: u.id, model: u.model, estimatedCostUsd: 0.5, requestId }, T0);
      await g.limit(
        { subjectType: 'user', subjectId: u.id, metric: 'cost', window: 'daily', limit: 0.25 },
        T0 + 1,
      );
      const settled = await g.settle({ requestId, costUsd: 0.5 }, T0 + SECOND);
      expect(settled.status).toBe(200);
      expect(settled.body.buckets).toEqual([u.keys.cost]);
      expect((await u.state(T0 + 2 * SECOND)).cost).toMatchObject({ used: 0.5, limit: 0.25, remaining: 0 });
    });

    it('charges spend settled after midnight to the new day of a daily bucket', async () => {
      const g = gate();
      const u = await user(g);
      const midnight = Date.parse('2027-03-02T00:00:00.000Z');
      const requestId = uid('r');
      await g.reserve({ userId: u.id, model: u.model, estimatedCostUsd: 0.5, requestId }, midnight - MINUTE);
      await g.settle({ requestId, costUsd: 0.4 }, midnight + MINUTE);
      const s = await u.state(midnight + 2 * MINUTE);
      expect(s.cost).toMatchObject({ used: 0.4, held: 0, resetAt: '2027-03-03T00:00:00.000Z' });
      // The request itself was counted when it was admitted, the day before.
      expect(s.requests).toMatchObject({ used: 0 });
    });

    it('records a cost above the estimate in full, and the next request is refused', async () => {
      const g = gate();
      const u = await user(g);
      const requestId = uid('r');
      await g.reserve({ userId: u.id, model: u.model, estimatedCostUsd: 0.1, requestId }, T0);
      expect((await g.settle({ requestId, costUsd: 1.5 }, T0 + SECOND)).body.costUsd).toBe(1.5);
      const next = await g.check({ userId: u.id, model: u.model }, T0 + 2 * SECOND);
      expect(next.status).toBe(429);
      expect(bucketOf(next.body, u.keys.cost)).toMatchObject({
        used: 1.5,
        held: 0,
        remaining: 0,
        exceeded: true,
      });
      expect((await ledgerRow(g, requestId))?.costMicros).toBe(1_500_000);
    });

    it('is never refused for quota', async () => {
      const g = gate();
      const u = await user(g);
      await g.settle({ requestId: uid('r'), userId: u.id, model: u.model, costUsd: 5 }, T0);
      const again = await g.settle({ requestId: uid('r'), userId: u.id, model: u.model, costUsd: 5 }, T0 + 1);
      expect(again.status).toBe(200);
      expect((await u.state(T0 + 2)).cost).toMatchObject({ used: 10 });
    });

    it('settles without a reservation from userId and model, counting one request', async () => {
      const g = gate();
      const u = await user(g);
      const requestId = uid('r');
      const settled = await g.settle({ requestId, userId: u.id, model: u.model, costUsd: 0.2 }, T0);
      expect(settled.status).toBe(200);
      expect(settled.body).toMatchObject({
        duplicate: false,
        buckets: [u.keys.cost],
        countedInUserGlobal: true,
      });
      const s = await u.state(T0 + 1);
      expect(s.cost).toMatchObject({ used: 0.2, held: 0 });
      expect(s.requests).toMatchObject({ used: 1 });
      expect(s.slots).toMatchObject({ used: 0 });
      expect(await ledgerRow(g, requestId)).toMatchObject({ reservedAt: null, settledAt: new Date(T0) });
    });

    it('records a settle after a release', async () => {
      const g = gate();
      const u = await user(g);
      const requestId = uid('r');
      await g.reserve({ userId: u.id, model: u.model, estimatedCostUsd: 0.5, requestId }, T0);
      expect((await g.release(requestId, T0 + SECOND)).status).toBe(200);
      const settled = await g.settle({ requestId, costUsd: 0.3 }, T0 + 2 * SECOND);
      expect(settled.status).toBe(200);
      expect(settled.body).toMatchObject({ duplicate: false, costUsd: 0.3 });
      const s = await u.state(T0 + 3 * SECOND);
      expect(s.cost).toMatchObject({ used: 0.3, held: 0 });
      expect(s.requests).toMatchObject({ used: 1 });
      expect(await ledgerRow(g, requestId)).toMatchObject({ status: 'settled', costMicros: 300_000 });
    });

    it('charges the frozen buckets after the hold expired', async () => {
      const g = gate();
      const u = await user(g);
      const requestId = uid('r');
      await g.reserve({ userId: u.id, model: u.model, estimatedCostUsd: 0.5, requestId, ttlSeconds: 60 }, T0);
      const expired = await u.state(T0 + MINUTE);
      expect(expired.cost).toMatchObject({ held: 0 });
      expect(expired.slots).toMatchObject({ used: 0 });
      const settled = await g.settle({ requestId, costUsd: 0.4 }, T0 + 2 * MINUTE);
      expect(settled.body).toMatchObject({ buckets: [u.keys.cost] });
      expect((await u.state(T0 + 3 * MINUTE)).cost).toMatchObject({ used: 0.4 });
      expect((await u.state(T0 + 3 * MINUTE)).requests).toMatchObject({ used: 1 });
    });
  });

  describe('settle: idempotency and errors', () => {
    it('answers a repeated settle with duplicate: true and charges once', async () => {
      const g = gate();
      const u = await user(g);
      const requestId = uid('r');
      await g.reserve({ userId: u.id, model: u.model, estimatedCostUsd: 0.5, requestId }, T0);
      const first = await g.settle({ requestId, costUsd: 0.25 }, T0 + SECOND);
      const second = await g.settle({ requestId, costUsd: '0.250000' }, T0 + 2 * SECOND);
      expect(second.status).toBe(200);
      expect(second.body).toEqual({ ...first.body, duplicate: true });
      expect((await u.state(T0 + 3 * SECOND)).cost).toMatchObject({ used: 0.25 });
    });

    it('answers a repeated direct settle with duplicate: true, counting one request', async () => {
      const g = gate();
      const u = await user(g);
      const body = { requestId: uid('r'), userId: u.id, model: u.model, costUsd: 0.1 };
      expect((await g.settle(body, T0)).body.duplicate).toBe(false);
      expect((await g.settle(body, T0 + 1)).body.duplicate).toBe(true);
      const s = await u.state(T0 + 2);
      expect(s.cost).toMatchObject({ used: 0.1 });
      expect(s.requests).toMatchObject({ used: 1 });
    });

    it('answers a repeated direct settle with the first result after the config changed', async () => {
      const g = gate();
      const u = await user(g);
      const body = { requestId: uid('r'), userId: u.id, model: u.model, costUsd: 0.1 };
      const first = await g.settle(body, T0);
      const opus = await g.modelGroup([u.model]);
      await g.limit(
        {
          subjectType: 'user',
          subjectId: u.id,
          modelGroupId: opus.id,
          metric: 'cost',
          window: 'daily',
          limit: 5,
        },
        T0 + 1,
      );
      const again = await g.settle(body, T0 + 2);
      expect(again.body).toEqual({ ...first.body, duplicate: true });
      const usage = await g.usage({ userId: u.id }, T0 + 3);
      expect(bucketOf(usage.body, u.keys.cost)).toMatchObject({ used: 0.1 });
      expect(bucketOf(usage.body, keyOf('user', u.id, opus.id, 'cost', 'daily'))).toMatchObject({ used: 0 });
    });

    it('recognises a repeated settle by its request id alone once Redis lost the reservation', async () => {
      const g = gate();
      const u = await user(g);
      const requestId = uid('r');
      await g.reserve({ userId: u.id, model: u.model, estimatedCostUsd: 0.5, requestId }, T0);
      const first = await g.settle({ requestId, costUsd: 0.25 }, T0 + SECOND);
      await g.loseRedisData();
      const again = await g.settle({ requestId, costUsd: 0.25 }, T0 + 2 * SECOND);
      expect(again.status).toBe(200);
      expect(again.body).toEqual({ ...first.body, duplicate: true });
      expectProblem(
        await g.settle({ requestId, costUsd: 0.3 }, T0 + 3 * SECOND),
        409,
        'idempotency_conflict',
      );
      expect((await u.state(T0 + 4 * SECOND)).cost).toMatchObject({ used: 0.25 });
    });

    it('refuses a repeated settle with another cost: 409 idempotency_conflict', async () => {
      const g = gate();
      const u = await user(g);
      const requestId = uid('r');
      await g.reserve({ userId: u.id, model: u.model, estimatedCostUsd: 0.5, requestId }, T0);
      await g.settle({ requestId, costUsd: 0.25 }, T0 + SECOND);
      const conflict = await g.settle({ requestId, costUsd: 0.26 }, T0 + 2 * SECOND);
      expectProblem(conflict, 409, 'idempotency_conflict');
      expect((await u.state(T0 + 3 * SECOND)).cost).toMatchObject({ used: 0.25 });
    });

    it('needs userId and model when no reservation is known (400 naming the field)', async () => {
      const g = gate();
      expectProblem(
        await g.settle({ requestId: uid('r'), model: 'm', costUsd: 1 }, T0),
        400,
        'validation_failed',
        'userId',
      );
      expectProblem(
        await g.settle({ requestId: uid('r'), userId: 'u', costUsd: 1 }, T0),
        400,
        'validation_failed',
        'model',
      );
    });
  });

  describe('release', () => {
    it('frees the hold and the slot; the request stays counted', async () => {
      const g = gate();
      const u = await user(g);
      const requestId = uid('r');
      await g.reserve({ userId: u.id, model: u.model, estimatedCostUsd: 0.5, requestId }, T0);
      const released = await g.release(requestId, T0 + SECOND);
      expect(released.status).toBe(200);
      expect(released.body).toEqual({ requestId, state: 'released' });
      const s = await u.state(T0 + 2 * SECOND);
      expect(s.cost).toMatchObject({ used: 0, held: 0 });
      expect(s.slots).toMatchObject({ used: 0 });
      expect(s.requests).toMatchObject({ used: 1 });
    });

    it('is idempotent', async () => {
      const g = gate();
      const u = await user(g);
      const requestId = uid('r');
      await g.reserve({ userId: u.id, model: u.model, estimatedCostUsd: 0.5, requestId }, T0);
      await g.release(requestId, T0 + SECOND);
      const again = await g.release(requestId, T0 + 2 * SECOND);
      expect(again.status).toBe(200);
      expect(again.body).toEqual({ requestId, state: 'released' });
      expect((await u.state(T0 + 3 * SECOND)).requests).toMatchObject({ used: 1 });
    });
  });

  describe('release: errors', () => {
    it('answers 409 reservation_closed after a settle, and keeps the charge', async () => {
      const g = gate();
      const u = await user(g);
      const requestId = uid('r');
      await g.reserve({ userId: u.id, model: u.model, estimatedCostUsd: 0.5, requestId }, T0);
      await g.settle({ requestId, costUsd: 0.2 }, T0 + SECOND);
      const release = await g.release(requestId, T0 + 2 * SECOND);
      expectProblem(release, 409, 'reservation_closed');
      expect(release.body.state).toBe('settled');
      expect((await u.state(T0 + 3 * SECOND)).cost).toMatchObject({ used: 0.2 });
    });

    it('answers 404 for an unknown request id', async () => {
      const g = gate();
      expectProblem(await g.release(uid('r'), T0), 404, 'not_found');
    });
  });
});
