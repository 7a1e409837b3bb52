import { describe, expect, it } from 'vitest';
import { describeWithServers } from '../../support/services.js';
import {
  HOUR,
  SECOND,
  T0,
  bucketOf,
  expectAllowed,
  expectRefusedWithRetry,
  iso,
  keyOf,
  ledgerRow,
  uid,
  useServersGate,
  type Gate,
} from './support.js';

describeWithServers('/check and /reserve', () => {
  const gate = useServersGate();

  /** A user with a $1 rolling 5h cost cap on a fresh model group, plus requests and concurrency caps. */
  async function capped(g: Gate, extra: { requests?: number; concurrency?: number } = {}) {
    const user = uid('u');
    const model = uid('model');
    const group = await g.modelGroup([model]);
    const cost = await g.limit({
      subjectType: 'user',
      subjectId: user,
      modelGroupId: group.id,
      metric: 'cost',
      window: '5h',
      limit: 1,
    });
    if (extra.requests !== undefined)
      await g.limit({
        subjectType: 'user',
        subjectId: user,
        metric: 'requests',
        window: '1h',
        limit: extra.requests,
      });
    if (extra.concurrency !== undefined)
      await g.limit({
        subjectType: 'user',
        subjectId: user,
        metric: 'concurrency',
        limit: extra.concurrency,
      });
    return {
      user,
      model,
      group,
      costLimitId: cost.id as number,
      costKey: keyOf('user', user, group.id, 'cost', '5h'),
    };
  }

  describe('admitted', () => {
    it('answers /check 200 with every bucket and its evidence', async () => {
      const g = gate();
      const { user, model, group, costLimitId, costKey } = await capped(g);
      const a = await g.check({ userId: user, model, estimatedCostUsd: 0.25 }, T0);
      expectAllowed(a);
      expect(a.body).toEqual({
        allowed: true,
        status: 'ok',
        requestId: null,
        reservation: null,
        retryAfterMs: null,
        reason: null,
        failOpen: false,
        buckets: [
          {
            key: costKey,
            axis: 'user',
            ownerId: user,
            modelGroupId: group.id,
            metric: 'cost',
            window: '5h',
            reset: 'rolling',
            limit: 1,
            boost: 0,
            effectiveLimit: 1,
            used: 0,
            held: 0,
            remaining: 1,
            resetAt: null,
            nextFreeAt: null,
            retryAfterMs: 0,
            exceeded: false,
            shadow: false,
            source: { subjectType: 'user', subjectId: user, limitId: costLimitId },
          },
        ],
        shadowRefused: [],
      });
    });

    it('records nothing on /check, however often it is asked', async () => {
      const g = gate();
      const { user, model, costKey } = await capped(g, { requests: 1, concurrency: 1 });
      for (let i = 0; i < 3; i++)
        expectAllowed(await g.check({ userId: user, model, estimatedCostUsd: 0.9 }, T0 + i));
      const usage = await g.usage({ userId: user, model }, T0 + 10);
      expect(bucketOf(usage.body, costKey)).toMatchObject({ used: 0, held: 0, remaining: 1 });
      expect(bucketOf(usage.body, keyOf('user', user, null, 'requests', '1h'))).toMatchObject({ used: 0 });
      expect(bucketOf(usage.body, keyOf('user', user, null, 'concurrency', 'concurrent'))).toMatchObject({
        used: 0,
      });
      expect(await ledgerRow(g, 'nothing')).toBeUndefined();
    });

    it('holds the estimate, counts one request and takes a concurrency slot on /reserve', async () => {
      const g = gate();
      const { user, model, costKey } = await capped(g, { requests: 5, concurrency: 2 });
      const requestId = uid('r');
      const a = await g.reserve({ userId: user, model, estimatedCostUsd: '0.3', requestId }, T0);
      expectAllowed(a);
      expect(a.body.requestId).toBe(requestId);
      expect(a.body.reservation).toEqual({ state: 'held', expiresAt: iso(T0 + 600 * SECOND) });
      expect(bucketOf(a.body, costKey)).toMatchObject({
        used: 0,
        held: 0.3,
        remaining: 0.7,
        exceeded: false,
      });
      expect(bucketOf(a.body, keyOf('user', user, null, 'requests', '1h'))).toMatchObject({
        used: 1,
        remaining: 4,
      });
      expect(bucketOf(a.body, keyOf('user', user, null, 'concurrency', 'concurrent'))).toMatchObject({
        used: 1,
        remaining: 1,
        window: null,
        reset: null,
      });
      const usage = await g.usage({ userId: user, model }, T0 + 1);
      expect(bucketOf(usage.body, costKey)).toMatchObject({ used: 0, held: 0.3 });
      expect(bucketOf(usage.body, keyOf('user', user, null, 'requests', '1h'))).toMatchObject({ used: 1 });
      expect(bucketOf(usage.body, keyOf('user', user, null, 'concurrency', 'concurrent'))).toMatchObject({
        used: 1,
      });
    });

    it('takes ttlSeconds as the hold lifetime', async () => {
      const g = gate();
      const { user, model } = await capped(g);
      const a = await g.reserve({ userId: user, model, requestId: uid('r'), ttlSeconds: 86_400 }, T0);
      expect(a.body.reservation).toEqual({ state: 'held', expiresAt: iso(T0 + 86_400 * SECOND) });
    });

    it('admits an estimate that takes the cost bucket exactly to its cap', async () => {
      const g = gate();
      const { user, model, costKey } = await capped(g);
      expect((await g.settle({ requestId: uid('r'), userId: user, model, costUsd: 0.6 }, T0)).status).toBe(
        200,
      );
      const exact = await g.check({ userId: user, model, estimatedCostUsd: 0.4 }, T0 + 1);
      expectAllowed(exact);
      expect(bucketOf(exact.body, costKey)).toMatchObject({ used: 0.6, remaining: 0.4 });
      const reserved = await g.reserve(
        { userId: user, model, estimatedCostUsd: 0.4, requestId: uid('r') },
        T0 + 2,
      );
      expectAllowed(reserved);
      expect(bucketOf(reserved.body, costKey)).toMatchObject({ used: 0.6, held: 0.4, remaining: 0 });
    });

    it('admits a request without an estimate while anything is left, to the micro-dollar', async () => {
      const g = gate();
      const { user, model, costKey } = await capped(g);
      await g.settle({ requestId: uid('r'), userId: user, model, costUsd: '0.999999' }, T0);
      const a = await g.check({ userId: user, model }, T0 + 1);
      expectAllowed(a);
      expect(bucketOf(a.body, costKey)).toMatchObject({ used: 0.999999, remaining: 0.000001 });
      expectAllowed(await g.check({ userId: user, model, estimatedCostUsd: 0 }, T0 + 1));
    });

    it('allows a request no limit applies to, with no buckets and no RateLimit headers', async () => {
      const g = gate();
      const user = uid('u');
      const model = uid('model');
      const check = await g.check({ userId: user, keyId: uid('k'), model, estimatedCostUsd: 5 }, T0);
      expectAllowed(check);
      expect(check.body.buckets).toEqual([]);
      expect(check.headers['ratelimit']).toBeUndefined();
      expect(check.headers['ratelimit-policy']).toBeUndefined();
      const requestId = uid('r');
      const reserve = await g.reserve({ userId: user, model, estimatedCostUsd: 5, requestId }, T0);
      expectAllowed(reserve);
      expect(reserve.body).toMatchObject({ buckets: [], reservation: { state: 'held' } });
      const settle = await g.settle({ requestId, costUsd: 4 }, T0 + SECOND);
      expect(settle.status).toBe(200);
      expect(settle.body).toMatchObject({
        buckets: [],
        countedInUserGlobal: false,
        countedInKeyGlobal: false,
      });
      expect(await ledgerRow(g, requestId)).toMatchObject({
        userId: user,
        costMicros: 4_000_000,
        buckets: [],
      });
    });
  });

  describe('refused', () => {
    it('refuses an estimate one micro-dollar over the cap, naming subject, metric, window and group', async () => {
      const g = gate();
      const { user, model, group, costKey } = await capped(g);
      await g.settle({ requestId: uid('r'), userId: user, model, costUsd: 0.6 }, T0);
      const a = await g.check({ userId: user, model, estimatedCostUsd: '0.400001' }, T0 + 1);
      expect(a.status).toBe(429);
      expect(a.body).toMatchObject({
        allowed: false,
        status: 'rate_limited',
        reservation: null,
        reason: `user ${user}: cost 5h limit reached on group ${group.id} (${group.name})`,
      });
      expect(bucketOf(a.body, costKey)).toMatchObject({ used: 0.6, held: 0, remaining: 0.4, exceeded: true });
    });

    it('refuses a request without an estimate once the cost bucket is exactly at its cap', async () => {
      const g = gate();
      const { user, model, costKey } = await capped(g);
      await g.settle({ requestId: uid('r'), userId: user, model, costUsd: 1 }, T0);
      for (const estimate of [undefined, 0, '0']) {
        const a = await g.check({ userId: user, model, estimatedCostUsd: estimate }, T0 + HOUR);
        // The usage leaves the 5h window at T0 + 5h (slices of 5 min, counted until their last instant).
        expectRefusedWithRetry(a, 4 * HOUR + 5 * 60 * SECOND - 1);
        expect(bucketOf(a.body, costKey)).toMatchObject({ used: 1, remaining: 0, exceeded: true });
      }
    });

    it('records nothing in any bucket when one of several refuses the reserve', async () => {
      const g = gate();
      const { user, model, costKey } = await capped(g, { requests: 5, concurrency: 3 });
      const requestId = uid('r');
      const a = await g.reserve({ userId: user, model, estimatedCostUsd: 1.5, requestId }, T0);
      expect(a.status).toBe(429);
      expect(a.body).toMatchObject({ requestId, reservation: null, retryAfterMs: null });
      expect(bucketOf(a.body, costKey)).toMatchObject({ exceeded: true, held: 0, retryAfterMs: null });
      expect(bucketOf(a.body, keyOf('user', user, null, 'requests', '1h'))).toMatchObject({
        exceeded: false,
        used: 0,
      });
      const usage = await g.usage({ userId: user, model }, T0 + 1);
      for (const b of usage.body.buckets) expect(b).toMatchObject({ used: 0, held: 0 });
      expect(await ledgerRow(g, requestId)).toBeUndefined();
    });

    it('refuses everything in scope under a limit of 0, with no retry time', async () => {
      const g = gate();
      const user = uid('u');
      const model = uid('model');
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: 'daily', limit: 0 });
      const a = await g.reserve({ userId: user, model, requestId: uid('r') }, T0);
      expect(a.status).toBe(429);
      expect(a.body).toMatchObject({
        retryAfterMs: null,
        reason: `user ${user}: requests daily is blocked (limit 0) on all models`,
      });
      expect(a.headers['retry-after']).toBeUndefined();
      expect(bucketOf(a.body, keyOf('user', user, null, 'requests', 'daily'))).toMatchObject({
        effectiveLimit: 0,
        remaining: 0,
        exceeded: true,
        retryAfterMs: null,
      });
      const cost = await g.check({ userId: uid('u'), model }, T0);
      expectAllowed(cost); // another user is not touched
    });
  });
});
