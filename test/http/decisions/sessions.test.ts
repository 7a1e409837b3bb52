import { describe, expect, it } from 'vitest';
import { describeWithServers } from '../../support/services.js';
import {
  HOUR,
  MINUTE,
  SECOND,
  T0,
  bucketOf,
  expectAllowed,
  expectRefusedWithRetry,
  keyOf,
  uid,
  useServersGate,
} from './support.js';

describeWithServers('sessions (SPEC §4.4)', () => {
  const gate = useServersGate();

  /** A user allowed `limit` session admissions per 20 hours on all models. */
  async function sessionsUser(limit = 2) {
    const g = gate();
    const user = uid('u');
    const model = uid('model');
    await g.limit({ subjectType: 'user', subjectId: user, metric: 'sessions', window: '20h', limit });
    const key = keyOf('user', user, null, 'sessions', '20h');
    const reserve = (sessionId: string | null, now: number, extra: Record<string, unknown> = {}) =>
      g.reserve({ userId: user, model, sessionId, requestId: uid('r'), ...extra }, now);
    const check = (sessionId: string | null, now: number) => g.check({ userId: user, model, sessionId }, now);
    const used = async (now: number) =>
      bucketOf((await g.usage({ userId: user, model }, now)).body, key).used;
    return { g, user, model, key, reserve, check, used };
  }

  describe('admitted', () => {
    it('counts each new session once and lets a reconnect pass at full count, counting nothing', async () => {
      const s = await sessionsUser();
      expectAllowed(await s.reserve('s-1', T0));
      expectAllowed(await s.reserve('s-2', T0 + SECOND));
      expect(await s.used(T0 + 2 * SECOND)).toBe(2);
      const reconnect = await s.reserve('s-1', T0 + MINUTE);
      expectAllowed(reconnect);
      expect(bucketOf(reconnect.body, s.key)).toMatchObject({ used: 2, remaining: 0, exceeded: false });
      expectAllowed(await s.check('s-2', T0 + MINUTE));
      expect(await s.used(T0 + 2 * MINUTE)).toBe(2);
    });

    it('keeps a session a reconnect for its active period, even after its admission left the window', async () => {
      const s = await sessionsUser(1);
      expectAllowed(await s.reserve('s-1', T0, { sessionTtlSeconds: 24 * 3600 }));
      expect(await s.used(T0 + 21 * HOUR)).toBe(0);
      const reconnect = await s.reserve('s-1', T0 + 21 * HOUR);
      expectAllowed(reconnect);
      expect(bucketOf(reconnect.body, s.key)).toMatchObject({ used: 0 });
      // The active period ends 24 h after the admission: then s-1 is new again, and counts.
      expectAllowed(await s.reserve('s-1', T0 + 24 * HOUR));
      expect(await s.used(T0 + 24 * HOUR)).toBe(1);
    });

    it('does not evaluate a sessions bucket without a session id', async () => {
      const s = await sessionsUser(1);
      expectAllowed(await s.reserve('s-1', T0));
      const without = await s.reserve(null, T0 + 1);
      expectAllowed(without);
      expect(bucketOf(without.body, s.key)).toMatchObject({ used: 1, exceeded: false });
      expect(await s.used(T0 + 2)).toBe(1);
    });

    it('keeps admissions and active periods through a loss of Redis (PostgreSQL admission log)', async () => {
      const s = await sessionsUser(1);
      expectAllowed(await s.reserve('s-1', T0));
      await s.g.settleWriteBehind();
      await s.g.loseRedisData();
      expectRefusedWithRetry(await s.reserve('s-2', T0 + MINUTE), 20 * HOUR - MINUTE);
      const reconnect = await s.reserve('s-1', T0 + 2 * MINUTE);
      expectAllowed(reconnect);
      expect(bucketOf(reconnect.body, s.key)).toMatchObject({ used: 1 });
    });

    it('records nothing on /check', async () => {
      const s = await sessionsUser();
      expectAllowed(await s.check('s-1', T0));
      expect(await s.used(T0 + 1)).toBe(0);
      expectAllowed(await s.reserve('s-2', T0 + 2));
      expectAllowed(await s.reserve('s-3', T0 + 3)); // s-1's dry run left room
    });

    it('keeps the admission after a release', async () => {
      const s = await sessionsUser(1);
      const first = await s.reserve('s-1', T0);
      await s.g.release(first.body.requestId, T0 + SECOND);
      expect(await s.used(T0 + 2 * SECOND)).toBe(1);
      expectAllowed(await s.reserve('s-1', T0 + 3 * SECOND));
    });
  });

  describe('refused', () => {
    it('refuses a new session at the cap until the oldest admission leaves the window', async () => {
      const s = await sessionsUser();
      await s.reserve('s-1', T0);
      await s.reserve('s-2', T0 + 5 * SECOND);
      const refused = await s.reserve('s-3', T0 + MINUTE);
      expectRefusedWithRetry(refused, 20 * HOUR - MINUTE);
      expect(refused.body.reason).toBe(`user ${s.user}: sessions 20h limit reached on all models`);
      expect(bucketOf(refused.body, s.key)).toMatchObject({ used: 2, exceeded: true });
      expectRefusedWithRetry(await s.check('s-3', T0 + MINUTE), 20 * HOUR - MINUTE);
      expect((await s.check('s-3', T0 + 20 * HOUR - 1)).status).toBe(429);
      expectAllowed(await s.reserve('s-3', T0 + 20 * HOUR));
    });

    it('asks an expired session again as a new one', async () => {
      const s = await sessionsUser();
      await s.reserve('s-1', T0, { sessionTtlSeconds: 60 });
      await s.reserve('s-2', T0 + SECOND);
      expectAllowed(await s.reserve('s-1', T0 + 59 * SECOND));
      const expired = await s.reserve('s-1', T0 + MINUTE);
      expectRefusedWithRetry(expired, 20 * HOUR - MINUTE);
    });

    it('counts an expired session again when there is room', async () => {
      const s = await sessionsUser(3);
      await s.reserve('s-1', T0, { sessionTtlSeconds: 60 });
      expectAllowed(await s.reserve('s-1', T0 + MINUTE));
      expect(await s.used(T0 + MINUTE)).toBe(2);
    });

    it('refuses even a reconnect under a cap of 0', async () => {
      const s = await sessionsUser(1);
      await s.reserve('s-1', T0);
      await s.g.limit(
        { subjectType: 'user', subjectId: s.user, metric: 'sessions', window: '20h', limit: 0 },
        T0 + 1,
      );
      const blocked = await s.reserve('s-1', T0 + 2);
      expect(blocked.status).toBe(429);
      expect(blocked.body.retryAfterMs).toBeNull();
    });
  });
});
