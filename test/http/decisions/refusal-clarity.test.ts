import { describe, expect, it } from 'vitest';
import { describeWithServers } from '../../support/services.js';
import {
  HOUR,
  MINUTE,
  T0,
  bucketOf,
  expectAllowed,
  expectRefusedWithRetry,
  keyOf,
  rateLimitT,
  uid,
  useServersGate,
} from './support.js';

describeWithServers('what a refusal names', () => {
  const gate = useServersGate();

  describe('a refusal caused only by open holds', () => {
    it.each([
      ['a daily (calendar) window', { window: 'daily' }],
      ['a rolling 5h window', { window: '5h' }],
      ['a fixed 5h window', { window: '5h', reset: 'fixed' }],
    ])('on %s has no retry time and no Retry-After, with an estimate or without', async (_, window) => {
      const g = gate();
      const [user, model] = [uid('u'), uid('model')];
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'cost', limit: 1, ...window });
      const slot = String(window.window);
      const key = keyOf('user', user, null, 'cost', slot);
      await g.settle({ requestId: uid('r'), userId: user, model, costUsd: 0.2 }, T0);
      const hold = (estimatedCostUsd: number, at: number) =>
        g.reserve({ userId: user, model, requestId: uid('r'), estimatedCostUsd }, at);
      expectAllowed(await hold(0.6, T0 + MINUTE));

      // With an estimate: 0.2 used + 0.6 held + 0.5 > 1, while 0.2 + 0.5 fits.
      const withEstimate = await g.check({ userId: user, model, estimatedCostUsd: 0.5 }, T0 + 2 * MINUTE);
      expect(withEstimate.status, JSON.stringify(withEstimate.body)).toBe(429);
      expect(withEstimate.body.retryAfterMs).toBeNull();
      expect(bucketOf(withEstimate.body, key)).toMatchObject({
        exceeded: true,
        retryAfterMs: null,
        used: 0.2,
        held: 0.6,
      });
      expect(withEstimate.headers['retry-after']).toBeUndefined();
      expect(rateLimitT(withEstimate)).toBeNull();

      // Without one: 0.2 used + 0.8 held leaves nothing, while 0.2 alone is under the cap.
      expectAllowed(await hold(0.2, T0 + 3 * MINUTE));
      const without = await g.check({ userId: user, model }, T0 + 4 * MINUTE);
      expect(without.status, JSON.stringify(without.body)).toBe(429);
      expect(without.body).toMatchObject({
        retryAfterMs: null,
        reason: `user ${user}: cost ${slot} limit reached on all models`,
      });
      expect(bucketOf(without.body, key)).toMatchObject({
        used: 0.2,
        held: 0.8,
        remaining: 0,
        retryAfterMs: null,
      });
      expect(without.headers['retry-after']).toBeUndefined();
      expect(without.headers['ratelimit']).toBe(`"${key}";r=0`);
    });

    it('keeps the time of a bucket whose used alone, with the estimate, is over the cap', async () => {
      const g = gate();
      const [user, model] = [uid('u'), uid('model')];
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'cost', window: 'daily', limit: 1 });
      await g.settle({ requestId: uid('r'), userId: user, model, costUsd: 0.95 }, T0);
      expectAllowed(
        await g.reserve({ userId: user, model, requestId: uid('r'), estimatedCostUsd: 0.05 }, T0),
      );
      // 0.95 + 0.1 is over the cap without the hold: the day's end frees it.
      const a = await g.check({ userId: user, model, estimatedCostUsd: 0.1 }, T0 + HOUR);
      expectRefusedWithRetry(a, Date.parse('2027-03-02T00:00:00.000Z') - T0 - HOUR);
    });
  });

  describe('the user group that supplied the cap', () => {
    it('is named in the reason, by the name it has in the config', async () => {
      const g = gate();
      const [user, model] = [uid('u'), uid('model')];
      const group = await g.userGroup([user]);
      const models = await g.modelGroup([model]);
      await g.limit({
        subjectType: 'user_group',
        subjectId: String(group.id),
        modelGroupId: models.id,
        metric: 'requests',
        window: '1h',
        limit: 1,
      });
      expectAllowed(await g.reserve({ userId: user, model, requestId: uid('r') }, T0));
      const a = await g.check({ userId: user, model }, T0 + MINUTE);
      expect(a.status, JSON.stringify(a.body)).toBe(429);
      expect(a.body.reason).toBe(
        `user ${user}: requests 1h limit reached on group ${models.id} (${models.name}); ` +
          `cap from user group ${group.id} (${group.name})`,
      );
    });
  });

  describe('the binding bucket: reason, retryAfterMs and RateLimit headers agree', () => {
    /**
     * A user at a requests cap and a sessions cap: two admitted sessions at T0 and T0 + 1 min,
     * then a third session asks at T0 + 10 min. Requests buckets sort before sessions buckets.
     */
    async function overBoth(requestsWindow: string, sessionsWindow: string) {
      const g = gate();
      const [user, model] = [uid('u'), uid('model')];
      await g.limit({
        subjectType: 'user',
        subjectId: user,
        metric: 'requests',
        window: requestsWindow,
        limit: 2,
      });
      await g.limit({
        subjectType: 'user',
        subjectId: user,
        metric: 'sessions',
        window: sessionsWindow,
        limit: 2,
      });
      for (const [i, at] of [T0, T0 + MINUTE].entries()) {
        expectAllowed(await g.reserve({ userId: user, model, sessionId: `s-${i}`, requestId: uid('r') }, at));
      }
      const a = await g.check({ userId: user, model, sessionId: 's-new' }, T0 + 10 * MINUTE);
      return {
        a,
        requests: keyOf('user', user, null, 'requests', requestsWindow),
        sessions: keyOf('user', user, null, 'sessions', sessionsWindow),
        user,
      };
    }

    it('names the later sessions bucket when it comes second (1h requests, 20h sessions)', async () => {
      const { a, requests, sessions, user } = await overBoth('1h', '20h');
      expect(a.body.buckets.map((b: { key: string }) => b.key)).toEqual([requests, sessions]);
      expect(bucketOf(a.body, requests)).toMatchObject({ exceeded: true, retryAfterMs: 50 * MINUTE });
      const wait = 20 * HOUR - 10 * MINUTE;
      expectRefusedWithRetry(a, wait);
      expect(a.body.reason).toBe(`user ${user}: sessions 20h limit reached on all models`);
      expect(a.headers['ratelimit-policy']).toBe(`"${sessions}";q=2;w=72000`);
      expect(a.headers['ratelimit']).toBe(`"${sessions}";r=0;t=${wait / 1000}`);
      expect(a.headers['retry-after']).toBe(String(wait / 1000));
    });

    it('names the later requests bucket when it comes first (20h requests, 1h sessions)', async () => {
      const { a, requests, sessions, user } = await overBoth('20h', '1h');
      expect(a.body.buckets.map((b: { key: string }) => b.key)).toEqual([requests, sessions]);
      expect(bucketOf(a.body, sessions)).toMatchObject({ exceeded: true, retryAfterMs: 50 * MINUTE });
      const wait = 20 * HOUR - 10 * MINUTE;
      expectRefusedWithRetry(a, wait);
      expect(a.body.reason).toBe(`user ${user}: requests 20h limit reached on all models`);
      expect(a.headers['ratelimit-policy']).toBe(`"${requests}";q=2;w=72000`);
      expect(a.headers['ratelimit']).toBe(`"${requests}";r=0;t=${wait / 1000}`);
      expect(a.headers['retry-after']).toBe(String(wait / 1000));
    });
  });
});
