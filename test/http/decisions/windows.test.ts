import { sql } from 'drizzle-orm';
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
  iso,
  keyOf,
  ledgerRow,
  uid,
  useServersGate,
} from './support.js';

describeWithServers('windows through HTTP', () => {
  const gate = useServersGate();

  /** A user with one requests limit on all models. */
  async function requestsLimit(extra: Record<string, unknown>) {
    const g = gate();
    const user = uid('u');
    const model = uid('model');
    await g.limit({ subjectType: 'user', subjectId: user, metric: 'requests', ...extra });
    const reserve = (now: number) => g.reserve({ userId: user, model, requestId: uid('r') }, now);
    return { g, user, model, reserve };
  }

  describe('rolling', () => {
    it('refuses at the cap and retries exactly when the oldest request leaves the window', async () => {
      const { g, user, model, reserve } = await requestsLimit({ window: '1h', limit: 3 });
      for (const at of [T0, T0 + 1000, T0 + 2500]) expectAllowed(await reserve(at));
      const refused = await reserve(T0 + 10 * SECOND);
      expectRefusedWithRetry(refused, HOUR - 10 * SECOND);
      expect(refused.body.reason).toBe(`user ${user}: requests 1h limit reached on all models`);
      expect(bucketOf(refused.body, keyOf('user', user, null, 'requests', '1h'))).toMatchObject({
        used: 3,
        remaining: 0,
        resetAt: null,
        reset: 'rolling',
        retryAfterMs: HOUR - 10 * SECOND,
      });
      const justBefore = await g.check({ userId: user, model }, T0 + HOUR - 1);
      expectRefusedWithRetry(justBefore, 1);
      expectAllowed(await reserve(T0 + HOUR));
      // The request at T0 + 1 s is next to leave.
      expectRefusedWithRetry(await reserve(T0 + HOUR + 1), 999);
    });
    it('retries an estimate when enough of the oldest spend has left the window', async () => {
      const g = gate();
      const user = uid('u');
      const model = uid('model');
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'cost', window: '1h', limit: 1 });
      await g.settle({ requestId: uid('r'), userId: user, model, costUsd: 0.5 }, T0);
      await g.settle({ requestId: uid('r'), userId: user, model, costUsd: 0.3 }, T0 + 10 * MINUTE);
      // 0.2 left: an estimate of 0.5 fits once the 0.5 spent at T0 leaves, with its 1-minute slice.
      const leaves = T0 + MINUTE - 1 + HOUR;
      const refused = await g.check({ userId: user, model, estimatedCostUsd: 0.5 }, T0 + 20 * MINUTE);
      expectRefusedWithRetry(refused, leaves - T0 - 20 * MINUTE);
      expectAllowed(await g.check({ userId: user, model, estimatedCostUsd: 0.2 }, T0 + 20 * MINUTE));
      expect((await g.check({ userId: user, model, estimatedCostUsd: 0.5 }, leaves - 1)).status).toBe(429);
      expectAllowed(await g.check({ userId: user, model, estimatedCostUsd: 0.5 }, leaves));
    });
  });

  describe('calendar', () => {
    it('resets a daily window at the reset time in its time zone', async () => {
      // Berlin is UTC+1 on 1 March 2027: 04:00 local is 03:00Z.
      const { g, user, model, reserve } = await requestsLimit({
        window: 'daily',
        limit: 1,
        timezone: 'Europe/Berlin',
        resetTime: '04:00',
      });
      const resetAt = Date.parse('2027-03-02T03:00:00.000Z');
      expectAllowed(await reserve(T0));
      const refused = await reserve(T0 + 1);
      expectRefusedWithRetry(refused, resetAt - T0 - 1);
      expect(bucketOf(refused.body, keyOf('user', user, null, 'requests', 'daily'))).toMatchObject({
        reset: 'calendar',
        resetAt: iso(resetAt),
      });
      expect((await g.check({ userId: user, model }, resetAt - 1)).status).toBe(429);
      const next = await reserve(resetAt);
      expectAllowed(next);
      expect(bucketOf(next.body, keyOf('user', user, null, 'requests', 'daily'))).toMatchObject({
        used: 1,
        resetAt: iso(resetAt + 24 * HOUR),
      });
    });

    it('keeps daily boundaries at local midnight across a daylight-saving change', async () => {
      // New York springs forward on 14 March 2027: that day lasts 23 hours.
      const { reserve } = await requestsLimit({ window: 'daily', limit: 1, timezone: 'America/New_York' });
      const dayStart = Date.parse('2027-03-14T05:00:00.000Z');
      const dayEnd = Date.parse('2027-03-15T04:00:00.000Z');
      expectAllowed(await reserve(dayStart + HOUR));
      expectRefusedWithRetry(await reserve(dayStart + 2 * HOUR), dayEnd - dayStart - 2 * HOUR);
      expectAllowed(await reserve(dayEnd));
    });

    it('answers the default time zone (UTC) when the limit names none', async () => {
      const { g, user, model } = await requestsLimit({ window: 'weekly', limit: 5 });
      const a = await g.check({ userId: user, model }, T0);
      expect(bucketOf(a.body, keyOf('user', user, null, 'requests', 'weekly')).resetAt).toBe(
        '2027-03-08T00:00:00.000Z',
      );
    });
  });

  describe('fixed', () => {
    it('places consecutive windows on the anchor', async () => {
      const { g, user, model, reserve } = await requestsLimit({
        window: '1h',
        reset: 'fixed',
        anchor: '2027-01-01T00:20:00Z',
        limit: 1,
      });
      const end = Date.parse('2027-03-01T10:20:00.000Z');
      expectAllowed(await reserve(T0));
      const refused = await reserve(T0 + MINUTE);
      expectRefusedWithRetry(refused, end - T0 - MINUTE);
      expect(bucketOf(refused.body, keyOf('user', user, null, 'requests', '1h'))).toMatchObject({
        reset: 'fixed',
        resetAt: iso(end),
      });
      expect((await g.check({ userId: user, model }, end - 1)).status).toBe(429);
      expectAllowed(await reserve(end));
    });
  });

  describe('first_use', () => {
    it('opens at the first admitted use and retries at that window’s end', async () => {
      const { g, user, model, reserve } = await requestsLimit({ window: '5h', reset: 'first_use', limit: 2 });
      const key = keyOf('user', user, null, 'requests', '5h');
      const first = T0 + 3 * HOUR;
      // Asking does not open a window.
      expectAllowed(await g.check({ userId: user, model }, T0));
      expectAllowed(await reserve(first));
      const second = await reserve(first + HOUR);
      expectAllowed(second);
      expect(bucketOf(second.body, key)).toMatchObject({
        reset: 'first_use',
        used: 2,
        resetAt: iso(first + 5 * HOUR),
      });
      const refused = await reserve(first + 2 * HOUR);
      expectRefusedWithRetry(refused, 3 * HOUR);
      expect(bucketOf(refused.body, key).resetAt).toBe(iso(first + 5 * HOUR));
      expect((await g.check({ userId: user, model }, first + 5 * HOUR - 1)).status).toBe(429);
      // The next use after the end opens a new window there.
      const reopened = first + 7 * HOUR;
      const next = await reserve(reopened);
      expectAllowed(next);
      expect(bucketOf(next.body, key)).toMatchObject({ used: 1, resetAt: iso(reopened + 5 * HOUR) });
    });

    it('opens a cost window with the first reserve and keeps the settled spend in it', async () => {
      const g = gate();
      const user = uid('u');
      const model = uid('model');
      await g.limit({
        subjectType: 'user',
        subjectId: user,
        metric: 'cost',
        window: '5h',
        reset: 'first_use',
        limit: 1,
      });
      const requestId = uid('r');
      expectAllowed(await g.reserve({ userId: user, model, estimatedCostUsd: 0.5, requestId }, T0));
      expect((await g.settle({ requestId, costUsd: 1 }, T0 + HOUR)).status).toBe(200);
      const refused = await g.check({ userId: user, model }, T0 + 2 * HOUR);
      expectRefusedWithRetry(refused, 3 * HOUR);
      expectAllowed(await g.check({ userId: user, model }, T0 + 5 * HOUR));
    });
  });

  describe('first_use after a loss of Redis', () => {
    it('keeps a window opened by a reserve', async () => {
      const { g, user, model } = await requestsLimit({ window: '5h', reset: 'first_use', limit: 3 });
      const requestId = uid('r');
      expectAllowed(await g.reserve({ userId: user, model, requestId }, T0));
      await g.settle({ requestId, costUsd: 0.1 }, T0 + SECOND);
      await g.settleWriteBehind();
      await g.loseRedisData();
      const after = await g.check({ userId: user, model }, T0 + HOUR);
      expect(bucketOf(after.body, keyOf('user', user, null, 'requests', '5h'))).toMatchObject({
        used: 1,
        resetAt: iso(T0 + 5 * HOUR),
      });
    });

    it('counts a settled request once though its reservation row outlived the settle', async () => {
      // The write-behind's insert and the settle's statement can each run before the other
      // commits, so neither sees the other's row: the reservation row stays beside the ledger's.
      const { g, user, model } = await requestsLimit({ window: '5h', reset: 'first_use', limit: 3 });
      const requestId = uid('r');
      expectAllowed(await g.reserve({ userId: user, model, requestId }, T0));
      await g.settleWriteBehind();
      await g.settle({ requestId, costUsd: 0.1 }, T0 + SECOND);
      const bucket = keyOf('user', user, null, 'requests', '5h');
      await g.t.database.db.execute(sql`
        insert into reservations (request_id, user_id, reserved_at, expires_at, buckets, payload)
        values (${requestId}, ${user}, ${new Date(T0).toISOString()}, ${new Date(T0 + HOUR).toISOString()},
                ${JSON.stringify([bucket])}::jsonb, '')`);
      await g.loseRedisData();
      const after = await g.check({ userId: user, model }, T0 + HOUR);
      expect(bucketOf(after.body, bucket)).toMatchObject({ used: 1, resetAt: iso(T0 + 5 * HOUR) });
    });

    it('keeps a window opened by a direct settle, and its spend', async () => {
      const g = gate();
      const user = uid('u');
      const model = uid('model');
      await g.limit({
        subjectType: 'user',
        subjectId: user,
        metric: 'cost',
        window: '5h',
        reset: 'first_use',
        limit: 1,
      });
      expect((await g.settle({ requestId: uid('r'), userId: user, model, costUsd: 0.6 }, T0)).status).toBe(
        200,
      );
      await g.settleWriteBehind();
      await g.loseRedisData();
      const after = await g.check({ userId: user, model, estimatedCostUsd: 0.5 }, T0 + HOUR);
      expectRefusedWithRetry(after, 4 * HOUR);
      expect(bucketOf(after.body, keyOf('user', user, null, 'cost', '5h'))).toMatchObject({
        used: 0.6,
        resetAt: iso(T0 + 5 * HOUR),
      });
    });
  });

  describe('total', () => {
    it('never resets: a refusal has no retry time and no Retry-After', async () => {
      const { g, user, model, reserve } = await requestsLimit({ window: 'total', limit: 1 });
      expectAllowed(await reserve(T0));
      const refused = await reserve(T0 + 400 * 24 * HOUR);
      expect(refused.status).toBe(429);
      expect(refused.body.retryAfterMs).toBeNull();
      expect(refused.headers['retry-after']).toBeUndefined();
      expect(bucketOf(refused.body, keyOf('user', user, null, 'requests', 'total'))).toMatchObject({
        window: 'total',
        reset: null,
        resetAt: null,
        retryAfterMs: null,
        used: 1,
      });
      expect(refused.headers['ratelimit']).toBe(`"${keyOf('user', user, null, 'requests', 'total')}";r=0`);
      expect((await g.check({ userId: user, model }, T0 + 4000 * 24 * HOUR)).status).toBe(429);
    });
  });

  describe('reset markers', () => {
    it('stops counting usage before the marker, while the ledger keeps it', async () => {
      const g = gate();
      const user = uid('u');
      const model = uid('model');
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'cost', window: 'daily', limit: 1 });
      const spent = uid('r');
      await g.settle({ requestId: spent, userId: user, model, costUsd: 1 }, T0);
      expect((await g.check({ userId: user, model }, T0 + MINUTE)).status).toBe(429);
      await g.reset({ subjectType: 'user', subjectId: user, metric: 'cost', window: '24h' }, T0 + 2 * MINUTE);
      const after = await g.check({ userId: user, model }, T0 + 2 * MINUTE);
      expectAllowed(after);
      expect(bucketOf(after.body, keyOf('user', user, null, 'cost', 'daily'))).toMatchObject({
        used: 0,
        remaining: 1,
      });
      expect(await ledgerRow(g, spent)).toMatchObject({ costMicros: 1_000_000, status: 'settled' });
      // Usage after the marker counts as before.
      await g.settle({ requestId: uid('r'), userId: user, model, costUsd: 0.75 }, T0 + 3 * MINUTE);
      const usage = await g.usage({ userId: user, model }, T0 + 4 * MINUTE);
      expect(bucketOf(usage.body, keyOf('user', user, null, 'cost', 'daily'))).toMatchObject({ used: 0.75 });
    });

    it('resets a rolling requests log and a first-use window', async () => {
      const g = gate();
      const user = uid('u');
      const model = uid('model');
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: '1h', limit: 1 });
      await g.limit({
        subjectType: 'user',
        subjectId: user,
        metric: 'requests',
        window: '5h',
        reset: 'first_use',
        limit: 1,
      });
      expectAllowed(await g.reserve({ userId: user, model, requestId: uid('r') }, T0));
      expect((await g.check({ userId: user, model }, T0 + MINUTE)).status).toBe(429);
      await g.reset(
        { subjectType: 'user', subjectId: user, metric: 'requests', window: '60m' },
        T0 + 2 * MINUTE,
      );
      await g.reset(
        { subjectType: 'user', subjectId: user, metric: 'requests', window: '5h' },
        T0 + 2 * MINUTE,
      );
      const after = await g.reserve({ userId: user, model, requestId: uid('r') }, T0 + 3 * MINUTE);
      expectAllowed(after);
      expect(bucketOf(after.body, keyOf('user', user, null, 'requests', '5h'))).toMatchObject({
        used: 1,
        resetAt: iso(T0 + 3 * MINUTE + 5 * HOUR),
      });
    });

    for (const [window, reset] of [
      ['5h', 'rolling'],
      ['daily', 'calendar'],
      ['daily', 'first_use'],
    ] as const) {
      it(`counts spend settled after a marker on a reservation made before it (${window} ${reset})`, async () => {
        const g = gate();
        const user = uid('u');
        const model = uid('model');
        await g.limit({ subjectType: 'user', subjectId: user, metric: 'cost', window, reset, limit: 1 });
        const requestId = uid('r');
        expectAllowed(await g.reserve({ userId: user, model, estimatedCostUsd: 0.1, requestId }, T0));
        await g.reset({ subjectType: 'user', subjectId: user, metric: 'cost', window }, T0 + MINUTE);
        // A decision in between puts the bucket's counter on the marker already.
        expectAllowed(await g.check({ userId: user, model }, T0 + MINUTE + 1));
        expect((await g.settle({ requestId, costUsd: 0.7 }, T0 + 2 * MINUTE)).status).toBe(200);
        const after = await g.check({ userId: user, model, estimatedCostUsd: 0.5 }, T0 + 3 * MINUTE);
        expect(after.status).toBe(429);
        expect(bucketOf(after.body, keyOf('user', user, null, 'cost', window))).toMatchObject({ used: 0.7 });
      });
    }

    it('resets one bucket only', async () => {
      const g = gate();
      const user = uid('u');
      const model = uid('model');
      const opus = await g.modelGroup([model]);
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: 'daily', limit: 1 });
      await g.limit({
        subjectType: 'user',
        subjectId: user,
        modelGroupId: opus.id,
        metric: 'requests',
        window: 'daily',
        limit: 1,
      });
      expectAllowed(await g.reserve({ userId: user, model, requestId: uid('r') }, T0));
      await g.reset(
        { subjectType: 'user', subjectId: user, modelGroupId: opus.id, metric: 'requests', window: 'daily' },
        T0 + 1,
      );
      const a = await g.check({ userId: user, model }, T0 + 2);
      expect(a.status).toBe(429);
      expect(bucketOf(a.body, keyOf('user', user, opus.id, 'requests', 'daily'))).toMatchObject({
        used: 0,
        exceeded: false,
      });
      expect(bucketOf(a.body, keyOf('user', user, null, 'requests', 'daily'))).toMatchObject({
        used: 1,
        exceeded: true,
      });
    });
  });
});
