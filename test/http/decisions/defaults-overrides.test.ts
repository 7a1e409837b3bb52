import { describe, expect, it } from 'vitest';
import { describeWithServers } from '../../support/services.js';
import { DAY, T0, bucketOf, expectAllowed, keyOf, uid, useServersGate, type Gate } from './support.js';

/**
 * SPEC §3, §9.1 (non-shared `everyone` limits: every user's default cap) and §9.3
 * (overrides and blocks). Every case scopes its limits to a model group of its own, since
 * an `everyone` limit applies to every user of this app.
 */
describeWithServers('defaults (everyone) and overrides (SPEC §9.1, §9.3)', () => {
  const gate = useServersGate();

  /** A fresh model group with one model, and a request on it. */
  async function scope(g: Gate) {
    const model = uid('model');
    const group = await g.modelGroup([model]);
    const reserve = (userId: string, now = T0, extra: Record<string, unknown> = {}) =>
      g.reserve({ userId, model, requestId: uid('r'), ...extra }, now);
    return { model, group, reserve };
  }

  const requestsLimit = (modelGroupId: number, subject: Record<string, unknown>, limit: number) => ({
    ...subject,
    modelGroupId,
    metric: 'requests',
    window: 'daily',
    limit,
  });
  const EVERYONE = { subjectType: 'everyone', subjectId: '*' };

  describe('a default for everyone', () => {
    it('refuses a user with no limit of their own at the default cap, naming it', async () => {
      const g = gate();
      const { group, reserve } = await scope(g);
      const def = await g.limit(requestsLimit(group.id, EVERYONE, 2));
      const user = uid('u');
      expectAllowed(await reserve(user));
      expectAllowed(await reserve(user));
      const refused = await reserve(user);
      expect(refused.status).toBe(429);
      expect(refused.body.reason).toBe(
        `user ${user}: requests daily limit reached on group ${group.id} (${group.name}); ` +
          `cap from the default limit ${def.id} (everyone)`,
      );
      expect(bucketOf(refused.body, keyOf('user', user, group.id, 'requests', 'daily'))).toMatchObject({
        axis: 'user',
        ownerId: user,
        limit: 2,
        used: 2,
        exceeded: true,
        source: { subjectType: 'everyone', subjectId: '*', limitId: def.id },
      });
    });

    it('gives each user their own counter, not a shared one', async () => {
      const g = gate();
      const { group, reserve } = await scope(g);
      await g.limit(requestsLimit(group.id, EVERYONE, 1));
      const [first, second] = [uid('u'), uid('u')];
      expectAllowed(await reserve(first));
      expect((await reserve(first)).status).toBe(429);
      expectAllowed(await reserve(second));
    });

    it('loses to a user group’s higher cap, for the group’s members only', async () => {
      const g = gate();
      const { group, reserve } = await scope(g);
      const [member, outsider] = [uid('u'), uid('u')];
      const team = await g.userGroup([member]);
      await g.limit(requestsLimit(group.id, EVERYONE, 1));
      const teamLimit = await g.limit(
        requestsLimit(group.id, { subjectType: 'user_group', subjectId: String(team.id) }, 3),
      );
      for (let i = 0; i < 3; i++) expectAllowed(await reserve(member));
      const refused = await reserve(member);
      expect(refused.status).toBe(429);
      expect(refused.body.buckets[0]).toMatchObject({
        limit: 3,
        source: { subjectType: 'user_group', limitId: teamLimit.id },
      });
      expectAllowed(await reserve(outsider));
      expect((await reserve(outsider)).status).toBe(429);
    });

    it('takes a boost on the user’s bucket, with no warning', async () => {
      const g = gate();
      const { group, reserve } = await scope(g);
      await g.limit(requestsLimit(group.id, EVERYONE, 1));
      const user = uid('u');
      const boost = await g.boost({
        subjectType: 'user',
        subjectId: user,
        modelGroupId: group.id,
        metric: 'requests',
        window: 'daily',
        amount: 1,
        expiresAt: new Date(T0 + DAY).toISOString(),
      });
      expect(boost.warnings).toEqual([]);
      expectAllowed(await reserve(user));
      expectAllowed(await reserve(user));
      expect((await reserve(user)).body.buckets[0]).toMatchObject({ limit: 1, boost: 1, effectiveLimit: 2 });
    });

    it('shows in /usage as the user’s bucket with its source', async () => {
      const g = gate();
      const { group, model } = await scope(g);
      const def = await g.limit(requestsLimit(group.id, EVERYONE, 4));
      const user = uid('u');
      const usage = await g.usage({ userId: user, model }, T0);
      expect(usage.status).toBe(200);
      expect(bucketOf(usage.body, keyOf('user', user, group.id, 'requests', 'daily'))).toMatchObject({
        limit: 4,
        source: { subjectType: 'everyone', subjectId: '*', limitId: def.id },
      });
    });
  });

  describe('overrides', () => {
    it('refuses at an override lower than the group’s cap and the default', async () => {
      const g = gate();
      const { group, reserve } = await scope(g);
      const user = uid('u');
      const team = await g.userGroup([user]);
      await g.limit(requestsLimit(group.id, EVERYONE, 10));
      await g.limit(requestsLimit(group.id, { subjectType: 'user_group', subjectId: String(team.id) }, 5));
      const mine = await g.limit({
        ...requestsLimit(group.id, { subjectType: 'user', subjectId: user }, 1),
        override: true,
      });
      expectAllowed(await reserve(user));
      const refused = await reserve(user);
      expect(refused.status).toBe(429);
      expect(refused.body.reason).toBe(
        `user ${user}: requests daily limit reached on group ${group.id} (${group.name}); ` +
          `cap from override limit ${mine.id}`,
      );
      expect(refused.body.buckets[0]).toMatchObject({
        limit: 1,
        source: { subjectType: 'user', subjectId: user, limitId: mine.id },
      });
    });

    it('merges the same own limit normally once override is cleared', async () => {
      const g = gate();
      const { group, reserve } = await scope(g);
      const user = uid('u');
      const team = await g.userGroup([user]);
      await g.limit(requestsLimit(group.id, { subjectType: 'user_group', subjectId: String(team.id) }, 3));
      const own = requestsLimit(group.id, { subjectType: 'user', subjectId: user }, 1);
      await g.limit({ ...own, override: true });
      expectAllowed(await reserve(user));
      expect((await reserve(user)).status).toBe(429);
      await g.limit({ ...own, override: false });
      expectAllowed(await reserve(user));
      expect((await reserve(user)).body.buckets[0]).toMatchObject({
        limit: 3,
        used: 3,
        source: { subjectType: 'user_group' },
      });
    });

    it('lifts a user above the group’s cap when higher', async () => {
      const g = gate();
      const { group, reserve } = await scope(g);
      const user = uid('u');
      const team = await g.userGroup([user]);
      await g.limit(requestsLimit(group.id, { subjectType: 'user_group', subjectId: String(team.id) }, 1));
      await g.limit({
        ...requestsLimit(group.id, { subjectType: 'user', subjectId: user }, 2),
        override: true,
      });
      expectAllowed(await reserve(user));
      expectAllowed(await reserve(user));
      expect((await reserve(user)).status).toBe(429);
    });

    it('blocks at 0: every request in scope refused, /check too, naming the override', async () => {
      const g = gate();
      const { group, model, reserve } = await scope(g);
      const user = uid('u');
      // A default on the same bucket: the block is not merged with it.
      await g.limit({ ...EVERYONE, modelGroupId: group.id, metric: 'cost', window: 'total', limit: 100 });
      const block = await g.limit({
        subjectType: 'user',
        subjectId: user,
        modelGroupId: group.id,
        metric: 'cost',
        window: 'total',
        limit: 0,
        override: true,
      });
      for (const a of [await reserve(user), await g.check({ userId: user, model }, T0)]) {
        expect(a.status).toBe(429);
        expect(a.body.reason).toBe(
          `user ${user}: cost total is blocked (limit 0) on group ${group.id} (${group.name}); ` +
            `cap from override limit ${block.id}`,
        );
        expect(bucketOf(a.body, keyOf('user', user, group.id, 'cost', 'total'))).toMatchObject({
          limit: 0,
          exceeded: true,
          source: { subjectType: 'user', subjectId: user, limitId: block.id },
        });
      }
      expectAllowed(await g.check({ userId: uid('u'), model }, T0));
    });

    it('blocks a session reconnect too', async () => {
      const g = gate();
      const { group, reserve } = await scope(g);
      const user = uid('u');
      await g.limit({ ...EVERYONE, modelGroupId: group.id, metric: 'sessions', window: 'daily', limit: 5 });
      expectAllowed(await reserve(user, T0, { sessionId: 's-1' }));
      await g.limit({
        subjectType: 'user',
        subjectId: user,
        modelGroupId: group.id,
        metric: 'sessions',
        window: 'daily',
        limit: 0,
        override: true,
      });
      const reconnect = await reserve(user, T0 + 1000, { sessionId: 's-1' });
      expect(reconnect.status).toBe(429);
      expect(reconnect.body.reason).toContain('sessions daily is blocked (limit 0)');
    });
  });
});
