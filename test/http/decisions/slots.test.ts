import { describe, expect, it } from 'vitest';
import { describeWithServers } from '../../support/services.js';
import {
  SECOND,
  T0,
  bucketOf,
  expectAllowed,
  expectRefusedWithRetry,
  keyOf,
  uid,
  useServersGate,
} from './support.js';

describeWithServers('concurrency slots', () => {
  const gate = useServersGate();

  /** A user allowed 2 reservations at once, holding both (expiring at T0 + 100 s and T0 + 50 s). */
  async function full() {
    const g = gate();
    const user = uid('u');
    const model = uid('model');
    await g.limit({ subjectType: 'user', subjectId: user, metric: 'concurrency', limit: 2 });
    const reserve = (now: number, ttlSeconds = 600) =>
      g.reserve({ userId: user, model, requestId: uid('r'), ttlSeconds }, now);
    const first = await reserve(T0, 100);
    const second = await reserve(T0 + SECOND, 49);
    expectAllowed(first);
    expectAllowed(second);
    return {
      g,
      user,
      reserve,
      key: keyOf('user', user, null, 'concurrency', 'concurrent'),
      ids: [first.body.requestId as string, second.body.requestId as string],
    };
  }

  describe('refused', () => {
    it('refuses at the cap until the earliest hold expires', async () => {
      const s = await full();
      const refused = await s.reserve(T0 + 10 * SECOND);
      expectRefusedWithRetry(refused, 40 * SECOND);
      expect(refused.body.reason).toBe(`user ${s.user}: concurrency limit reached on all models`);
      expect(bucketOf(refused.body, s.key)).toMatchObject({
        window: null,
        reset: null,
        resetAt: null,
        used: 2,
        remaining: 0,
        exceeded: true,
        retryAfterMs: 40 * SECOND,
      });
      expect((await s.reserve(T0 + 50 * SECOND - 1)).status).toBe(429);
      expectAllowed(await s.reserve(T0 + 50 * SECOND));
    });
  });

  describe('freed', () => {
    it('by a settle', async () => {
      const s = await full();
      await s.g.settle({ requestId: s.ids[0], costUsd: 0 }, T0 + 2 * SECOND);
      const a = await s.reserve(T0 + 3 * SECOND);
      expectAllowed(a);
      expect(bucketOf(a.body, s.key)).toMatchObject({ used: 2 });
    });

    it('by a release', async () => {
      const s = await full();
      await s.g.release(s.ids[1] as string, T0 + 2 * SECOND);
      expectAllowed(await s.reserve(T0 + 3 * SECOND));
    });

    it('by expiry (ttlSeconds)', async () => {
      const s = await full();
      const usage = await s.g.usage({ userId: s.user }, T0 + 50 * SECOND);
      expect(bucketOf(usage.body, s.key)).toMatchObject({ used: 1, remaining: 1 });
    });
  });
});
