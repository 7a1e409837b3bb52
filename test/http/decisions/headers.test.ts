import { describe, expect, it } from 'vitest';
import { describeWithServers } from '../../support/services.js';
import {
  HOUR,
  MINUTE,
  SECOND,
  T0,
  expectAllowed,
  expectRefusedWithRetry,
  keyOf,
  uid,
  useServersGate,
} from './support.js';

const MONTH_END = Date.parse('2027-04-01T00:00:00.000Z');
const DAY_END = Date.parse('2027-03-02T00:00:00.000Z');

describeWithServers('RateLimit and Retry-After headers', () => {
  const gate = useServersGate();

  function subject() {
    return { g: gate(), user: uid('u'), model: uid('model') };
  }

  describe('on admitted decisions', () => {
    it('describes a cost bucket in micro-dollars', async () => {
      const { g, user, model } = subject();
      const opus = await g.modelGroup([model]);
      await g.limit({
        subjectType: 'user',
        subjectId: user,
        modelGroupId: opus.id,
        metric: 'cost',
        window: '5h',
        limit: 1,
      });
      const key = keyOf('user', user, opus.id, 'cost', '5h');
      const fresh = await g.check({ userId: user, model, estimatedCostUsd: 0.1 }, T0);
      expect(fresh.headers['ratelimit-policy']).toBe(`"${key}";q=1000000;w=18000;qu="usd-micro"`);
      expect(fresh.headers['ratelimit']).toBe(`"${key}";r=1000000`);
      await g.settle({ requestId: uid('r'), userId: user, model, costUsd: 0.25 }, T0);
      // The slice of T0 (5 min) leaves the window at T0 + 5 h + 5 min − 1 ms.
      const later = await g.check({ userId: user, model }, T0 + HOUR);
      expect(later.headers['ratelimit']).toBe(`"${key}";r=750000;t=${4 * 3600 + 5 * 60}`);
      expect(later.headers['retry-after']).toBeUndefined();
    });

    it('describes the bucket with the least remaining share, after the reserve’s own count', async () => {
      const { g, user, model } = subject();
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'cost', window: 'daily', limit: 10 });
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: '1h', limit: 3 });
      const a = await g.reserve({ userId: user, model, estimatedCostUsd: 1, requestId: uid('r') }, T0);
      expectAllowed(a);
      const key = keyOf('user', user, null, 'requests', '1h');
      expect(a.headers['ratelimit-policy']).toBe(`"${key}";q=3;w=3600`);
      expect(a.headers['ratelimit']).toBe(`"${key}";r=2;t=3600`);
    });

    it('keeps header strings ASCII and unforgeable whatever the ids contain', async () => {
      const g = gate();
      const user = `ü "${uid('u')}";r=999|*\\`;
      const model = uid('model');
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: '1h', limit: 3 });
      const a = await g.reserve({ userId: user, model, requestId: uid('r') }, T0);
      expectAllowed(a);
      const key = `user:${encodeURIComponent(user)}|*|requests|1h`;
      expect(a.body.buckets[0]).toMatchObject({ key, ownerId: user });
      expect(a.headers['ratelimit']).toBe(`"${key}";r=2;t=3600`);
      expect(String(a.headers['ratelimit'])).toMatch(/^[\x20-\x7e]+$/);
    });

    it('gives a calendar month its current length and the seconds to its end', async () => {
      const { g, user, model } = subject();
      await g.limit({
        subjectType: 'user',
        subjectId: user,
        metric: 'requests',
        window: 'monthly',
        limit: 5,
      });
      const a = await g.check({ userId: user, model }, T0);
      const key = keyOf('user', user, null, 'requests', 'monthly');
      expect(a.headers['ratelimit-policy']).toBe(`"${key}";q=5;w=${31 * 86_400}`);
      expect(a.headers['ratelimit']).toBe(`"${key}";r=5;t=${(MONTH_END - T0) / 1000}`);
    });

    it('gives a concurrency bucket no window and the seconds until a slot frees', async () => {
      const { g, user, model } = subject();
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'concurrency', limit: 2 });
      const a = await g.reserve({ userId: user, model, requestId: uid('r'), ttlSeconds: 90 }, T0);
      const key = keyOf('user', user, null, 'concurrency', 'concurrent');
      expect(a.headers['ratelimit-policy']).toBe(`"${key}";q=2`);
      expect(a.headers['ratelimit']).toBe(`"${key}";r=1;t=90`);
    });
  });

  describe('on refusals', () => {
    it('rounds Retry-After up to whole seconds, equal to RateLimit t', async () => {
      const { g, user, model } = subject();
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: '1m', limit: 1 });
      await g.reserve({ userId: user, model, requestId: uid('r') }, T0);
      const a = await g.reserve({ userId: user, model, requestId: uid('r') }, T0 + MINUTE - 1500);
      expectRefusedWithRetry(a, 1500);
      expect(a.headers['retry-after']).toBe('2');
      expect(a.headers['ratelimit']).toBe(`"${keyOf('user', user, null, 'requests', '1m')}";r=0;t=2`);
    });

    it('waits for the slowest refusing bucket and describes that bucket, t equal to Retry-After', async () => {
      const { g, user, model } = subject();
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: '1m', limit: 1 });
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: 'daily', limit: 1 });
      await g.reserve({ userId: user, model, requestId: uid('r') }, T0);
      const a = await g.check({ userId: user, model }, T0 + 10 * SECOND);
      expectRefusedWithRetry(a, DAY_END - T0 - 10 * SECOND);
      const daily = keyOf('user', user, null, 'requests', 'daily');
      const seconds = (DAY_END - T0) / 1000 - 10;
      expect(a.body.reason).toBe(`user ${user}: requests daily limit reached on all models`);
      expect(a.headers['ratelimit-policy']).toBe(`"${daily}";q=1;w=86400`);
      expect(a.headers['ratelimit']).toBe(`"${daily}";r=0;t=${seconds}`);
      expect(a.headers['retry-after']).toBe(String(seconds));
    });

    it('sends no Retry-After and no t when no time is known (limit 0)', async () => {
      const { g, user, model } = subject();
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'cost', window: '5h', limit: 0 });
      const a = await g.check({ userId: user, model, estimatedCostUsd: 0.01 }, T0);
      expect(a.status).toBe(429);
      const key = keyOf('user', user, null, 'cost', '5h');
      expect(a.headers['retry-after']).toBeUndefined();
      expect(a.headers['ratelimit-policy']).toBe(`"${key}";q=0;w=18000;qu="usd-micro"`);
      expect(a.headers['ratelimit']).toBe(`"${key}";r=0`);
    });

    it('sends no retry time for an estimate larger than the whole cap', async () => {
      const { g, user, model } = subject();
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'cost', window: 'daily', limit: 1 });
      const a = await g.check({ userId: user, model, estimatedCostUsd: 2 }, T0);
      expect(a.status).toBe(429);
      expect(a.body.retryAfterMs).toBeNull();
      expect(a.headers['retry-after']).toBeUndefined();
    });
  });
});
