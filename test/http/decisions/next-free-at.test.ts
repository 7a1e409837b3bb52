import { describe, expect, it } from 'vitest';
import { describeWithServers } from '../../support/services.js';
import {
  HOUR,
  MINUTE,
  SECOND,
  T0,
  bucketOf,
  expectAllowed,
  expectProblem,
  iso,
  keyOf,
  uid,
  useEmbeddedGate,
  useServersGate,
  type Gate,
} from './support.js';

const DAY_END = Date.parse('2027-03-02T00:00:00.000Z');

/** SPEC §4.2 `nextFreeAt` and `/usage?groups=`, the same on either counter store. */
function nextFreeAtSuite(gate: () => Gate) {
  /** A fresh user with these limits (on all models); `key(metric, slot)` names their buckets. */
  async function userWith(...limits: Record<string, unknown>[]) {
    const g = gate();
    const user = uid('u');
    const model = uid('model');
    for (const l of limits) await g.limit({ subjectType: 'user', subjectId: user, ...l });
    const key = (metric: string, slot: string) => keyOf('user', user, null, metric, slot);
    const usage = async (now: number, query: Record<string, string> = {}) => {
      const a = await g.usage({ userId: user, model, ...query }, now);
      expect(a.status, JSON.stringify(a.body)).toBe(200);
      return a.body;
    };
    return { g, user, model, key, usage };
  }

  describe('nextFreeAt per window kind', () => {
    it('rolling log: when the oldest counted request leaves the window', async () => {
      const u = await userWith({ metric: 'requests', window: '1h', limit: 3 });
      const first = await u.g.reserve({ userId: u.user, model: u.model, requestId: uid('r') }, T0);
      expect(bucketOf(first.body, u.key('requests', '1h'))).toMatchObject({
        used: 1,
        nextFreeAt: iso(T0 + HOUR),
      });
      expectAllowed(await u.g.reserve({ userId: u.user, model: u.model, requestId: uid('r') }, T0 + SECOND));
      const mid = await u.usage(T0 + 10 * MINUTE);
      expect(bucketOf(mid, u.key('requests', '1h'))).toMatchObject({ used: 2, nextFreeAt: iso(T0 + HOUR) });
      const later = await u.usage(T0 + HOUR);
      expect(bucketOf(later, u.key('requests', '1h'))).toMatchObject({
        used: 1,
        nextFreeAt: iso(T0 + SECOND + HOUR),
      });
    });

    it('rolling slices: when the oldest slice’s last instant leaves the window', async () => {
      const u = await userWith({ metric: 'cost', window: '5h', limit: 10 });
      await u.g.settle({ requestId: uid('r'), userId: u.user, model: u.model, costUsd: 1 }, T0 + 30 * SECOND);
      await u.g.settle({ requestId: uid('r'), userId: u.user, model: u.model, costUsd: 2 }, T0 + HOUR);
      const body = await u.usage(T0 + 2 * HOUR);
      // Slices of a 5 h window are 5 minutes; the one holding T0 + 30 s starts at T0.
      expect(bucketOf(body, u.key('cost', '5h'))).toMatchObject({
        used: 3,
        resetAt: null,
        nextFreeAt: iso(T0 + 5 * MINUTE - 1 + 5 * HOUR),
      });
    });

    it('fixed, calendar and first_use: the window’s end, which is resetAt', async () => {
      const u = await userWith(
        { metric: 'requests', window: '5h', reset: 'fixed', anchor: iso(T0 - HOUR), limit: 5 },
        { metric: 'requests', window: 'daily', limit: 5 },
        { metric: 'requests', window: '3h', reset: 'first_use', limit: 5 },
      );
      expectAllowed(await u.g.reserve({ userId: u.user, model: u.model, requestId: uid('r') }, T0 + HOUR));
      const body = await u.usage(T0 + 2 * HOUR);
      const expected: [string, number][] = [
        ['5h', T0 + 4 * HOUR],
        ['daily', DAY_END],
        ['3h', T0 + 4 * HOUR],
      ];
      for (const [slot, end] of expected) {
        expect(bucketOf(body, u.key('requests', slot)), slot).toMatchObject({
          used: 1,
          resetAt: iso(end),
          nextFreeAt: iso(end),
        });
      }
    });

    it('total and concurrency: null, whatever is used or held', async () => {
      const u = await userWith(
        { metric: 'cost', window: 'total', limit: 10 },
        { metric: 'concurrency', limit: 2 },
      );
      await u.g.settle({ requestId: uid('r'), userId: u.user, model: u.model, costUsd: 1 }, T0);
      expectAllowed(await u.g.reserve({ userId: u.user, model: u.model, requestId: uid('r') }, T0));
      const body = await u.usage(T0 + MINUTE);
      expect(bucketOf(body, u.key('cost', 'total'))).toMatchObject({ used: 1, nextFreeAt: null });
      expect(bucketOf(body, u.key('concurrency', 'concurrent'))).toMatchObject({ used: 1, nextFreeAt: null });
    });

    it('nothing used: null on every kind, beside the resetAt a window has', async () => {
      const u = await userWith(
        { metric: 'requests', window: '1h', limit: 3 },
        { metric: 'cost', window: '5h', limit: 10 },
        { metric: 'requests', window: '5h', reset: 'fixed', limit: 5 },
        { metric: 'cost', window: 'daily', limit: 5 },
        { metric: 'sessions', window: '3h', reset: 'first_use', limit: 5 },
      );
      const body = await u.usage(T0);
      expect(body.buckets).toHaveLength(5);
      for (const b of body.buckets) expect(b, b.key).toMatchObject({ used: 0, nextFreeAt: null });
      expect(bucketOf(body, u.key('cost', 'daily')).resetAt).toBe(iso(DAY_END));
    });

    it('open holds alone are not usage: null until a settle charges them', async () => {
      const u = await userWith(
        { metric: 'cost', window: 'daily', limit: 5 },
        { metric: 'cost', window: '5h', limit: 5 },
      );
      const requestId = uid('r');
      expectAllowed(
        await u.g.reserve({ userId: u.user, model: u.model, requestId, estimatedCostUsd: 1 }, T0),
      );
      const held = await u.usage(T0 + MINUTE);
      for (const slot of ['daily', '5h'])
        expect(bucketOf(held, u.key('cost', slot)), slot).toMatchObject({
          used: 0,
          held: 1,
          nextFreeAt: null,
        });
      await u.g.settle({ requestId, costUsd: 0.5 }, T0 + 2 * MINUTE);
      const settled = await u.usage(T0 + 3 * MINUTE);
      expect(bucketOf(settled, u.key('cost', 'daily'))).toMatchObject({
        used: 0.5,
        nextFreeAt: iso(DAY_END),
      });
      // Charged at T0 + 2 min, in the 5-minute slice that starts at T0.
      expect(bucketOf(settled, u.key('cost', '5h'))).toMatchObject({
        used: 0.5,
        nextFreeAt: iso(T0 + 5 * MINUTE - 1 + 5 * HOUR),
      });
    });
  });

  describe('a usage screen from one /usage call', () => {
    it('draws "3 / 5 sessions used in the last 20h — next back at 14:05" for a group the gateway names', async () => {
      const g = gate();
      const pro = await g.userGroup();
      await g.limit({
        subjectType: 'user_group',
        subjectId: String(pro.id),
        metric: 'sessions',
        window: '20h',
        limit: 5,
      });
      const [user, model] = [uid('u'), uid('model')];
      const admittedAt = ['2027-03-01T18:05:00Z', '2027-03-01T20:00:00Z', '2027-03-01T22:30:00Z'];
      for (const [i, at] of admittedAt.entries()) {
        const a = await g.reserve(
          { userId: user, model, groups: [pro.name], sessionId: `s-${i}`, requestId: uid('r') },
          Date.parse(at),
        );
        expectAllowed(a);
      }
      const a = await g.usage({ userId: user, model, groups: pro.name }, Date.parse('2027-03-02T09:00:00Z'));
      expect(a.status).toBe(200);
      expect(a.body.buckets).toHaveLength(1);
      const [b] = a.body.buckets;
      expect(b).toMatchObject({
        key: keyOf('user', user, null, 'sessions', '20h'),
        source: { subjectType: 'user_group', subjectId: String(pro.id) },
        exceeded: false,
      });
      const line = `${b.used} / ${b.effectiveLimit} sessions used in the last ${b.window} — next back at ${String(b.nextFreeAt).slice(11, 16)}`;
      expect(line).toBe('3 / 5 sessions used in the last 20h — next back at 14:05');
      expect(b.nextFreeAt).toBe('2027-03-02T14:05:00.000Z');
    });
  });

  describe('/usage?groups=', () => {
    async function groupLimit() {
      const g = gate();
      const pro = await g.userGroup();
      await g.limit({
        subjectType: 'user_group',
        subjectId: String(pro.id),
        metric: 'requests',
        window: '1h',
        limit: 4,
      });
      const [user, model] = [uid('u'), uid('model')];
      const key = keyOf('user', user, null, 'requests', '1h');
      return { g, pro, user, model, key };
    }

    it('shows a user-group limit’s bucket for a user the gateway says is in the group', async () => {
      const c = await groupLimit();
      expectAllowed(
        await c.g.reserve({ userId: c.user, model: c.model, groups: [c.pro.name], requestId: uid('r') }, T0),
      );
      const a = await c.g.usage({ userId: c.user, model: c.model, groups: c.pro.name }, T0 + MINUTE);
      expect(a.status).toBe(200);
      expect(a.body).toMatchObject({ userId: c.user, model: c.model });
      expect(a.body).not.toHaveProperty('groups');
      expect(bucketOf(a.body, c.key)).toMatchObject({
        used: 1,
        limit: 4,
        remaining: 3,
        nextFreeAt: iso(T0 + HOUR),
        source: { subjectType: 'user_group', subjectId: String(c.pro.id) },
      });
    });

    it('ignores unknown names, blanks and spaces around names; without the group the bucket is absent', async () => {
      const c = await groupLimit();
      const listed = await c.g.usage({ userId: c.user, groups: ` no-such-group , ,${c.pro.name} ` }, T0);
      expect(listed.body.buckets.map((b: { key: string }) => b.key)).toEqual([c.key]);
      for (const groups of ['no-such-group', '', ',']) {
        const a = await c.g.usage({ userId: c.user, groups }, T0);
        expect(a.status).toBe(200);
        expect(a.body.buckets, JSON.stringify(groups)).toEqual([]);
      }
      expect((await c.g.usage({ userId: c.user }, T0)).body.buckets).toEqual([]);
    });

    it('refuses more than 50 names, or a name over 100 characters, naming the field', async () => {
      const g = gate();
      const many = Array.from({ length: 51 }, (_, i) => `g${i}`).join(',');
      expectProblem(
        await g.usage({ userId: uid('u'), groups: many }, T0),
        400,
        'validation_failed',
        'groups',
      );
      expectProblem(
        await g.usage({ userId: uid('u'), groups: 'x'.repeat(101) }, T0),
        400,
        'validation_failed',
        'groups',
      );
    });
  });
}

describeWithServers('nextFreeAt and /usage groups (PostgreSQL + Redis)', () => {
  nextFreeAtSuite(useServersGate());
});

describe('nextFreeAt and /usage groups (embedded)', () => {
  nextFreeAtSuite(useEmbeddedGate());
});
