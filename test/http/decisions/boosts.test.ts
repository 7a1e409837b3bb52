import { describe, expect, it } from 'vitest';
import { describeWithServers } from '../../support/services.js';
import { HOUR, SECOND, T0, bucketOf, expectAllowed, iso, keyOf, uid, useServersGate } from './support.js';

describeWithServers('boosts in decisions', () => {
  const gate = useServersGate();

  async function oneRequestUsed() {
    const g = gate();
    const user = uid('u');
    const model = uid('model');
    await g.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: '5h', limit: 1 });
    expectAllowed(await g.reserve({ userId: user, model, requestId: uid('r') }, T0));
    const check = (now: number) => g.check({ userId: user, model }, now);
    return { g, user, model, check, key: keyOf('user', user, null, 'requests', '5h') };
  }

  describe('active', () => {
    it('applies from startsAt exactly until expiresAt exactly, with no reload', async () => {
      const { g, user, check, key } = await oneRequestUsed();
      const startsAt = T0 + 10 * SECOND + 1;
      const expiresAt = T0 + 20 * SECOND + 1;
      const boost = await g.boost({
        subjectType: 'user',
        subjectId: user,
        metric: 'requests',
        window: '300m',
        amount: 2,
        startsAt: iso(startsAt),
        expiresAt: iso(expiresAt),
      });
      expect(boost.warnings ?? []).toEqual([]);
      const before = await check(startsAt - 1);
      expect(before.status).toBe(429);
      expect(bucketOf(before.body, key)).toMatchObject({ limit: 1, boost: 0, effectiveLimit: 1 });
      const at = await check(startsAt);
      expectAllowed(at);
      expect(bucketOf(at.body, key)).toMatchObject({ limit: 1, boost: 2, effectiveLimit: 3, remaining: 2 });
      expectAllowed(await check(expiresAt - 1));
      const after = await check(expiresAt);
      expect(after.status).toBe(429);
      expect(bucketOf(after.body, key)).toMatchObject({ boost: 0, effectiveLimit: 1 });
    });

    it('adds up active boosts on the same bucket', async () => {
      const { g, user, check, key } = await oneRequestUsed();
      for (const amount of [1, 2]) {
        await g.boost({
          subjectType: 'user',
          subjectId: user,
          metric: 'requests',
          window: '5h',
          amount,
          expiresAt: iso(T0 + HOUR),
        });
      }
      const a = await check(T0 + 1);
      expect(bucketOf(a.body, key)).toMatchObject({ boost: 3, effectiveLimit: 4, remaining: 3 });
    });

    it('raises a cost cap in dollars on a key', async () => {
      const g = gate();
      const [user, key] = [uid('u'), uid('k')];
      const model = uid('model');
      await g.limit({ subjectType: 'key', subjectId: key, metric: 'cost', window: 'daily', limit: '0.5' });
      await g.boost({
        subjectType: 'key',
        subjectId: key,
        metric: 'cost',
        window: 'daily',
        amount: '0.25',
        expiresAt: iso(T0 + HOUR),
      });
      const a = await g.check({ userId: user, keyId: key, model, estimatedCostUsd: 0.75 }, T0);
      expectAllowed(a);
      expect(bucketOf(a.body, keyOf('key', key, null, 'cost', 'daily'))).toMatchObject({
        limit: 0.5,
        boost: 0.25,
        effectiveLimit: 0.75,
      });
      expect(
        (await g.check({ userId: user, keyId: key, model, estimatedCostUsd: 0.750001 }, T0)).status,
      ).toBe(429);
    });
  });

  describe('inactive or without effect', () => {
    it('stops applying at once when revoked', async () => {
      const { g, user, check } = await oneRequestUsed();
      const boost = await g.boost({
        subjectType: 'user',
        subjectId: user,
        metric: 'requests',
        window: '5h',
        amount: 1,
        expiresAt: iso(T0 + HOUR),
      });
      expectAllowed(await check(T0 + 1));
      expect((await g.admin('DELETE', `/admin/boosts/${boost.id}`, undefined, T0 + 2)).status).toBe(204);
      expect((await check(T0 + 3)).status).toBe(429);
    });

    it('has no effect without a matching limit, and says so when created', async () => {
      const { g, user, check } = await oneRequestUsed();
      const boost = await g.boost({
        subjectType: 'user',
        subjectId: user,
        metric: 'requests',
        window: 'daily',
        amount: 5,
        expiresAt: iso(T0 + HOUR),
      });
      expect(boost.warnings).toHaveLength(1);
      const a = await check(T0 + 1);
      expect(a.status).toBe(429);
      expect(a.body.buckets).toHaveLength(1);
    });
  });
});
