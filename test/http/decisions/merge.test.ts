import { describe, expect, it } from 'vitest';
import { describeWithServers } from '../../support/services.js';
import {
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

const TOMORROW = Date.parse('2027-03-02T00:00:00.000Z');

describeWithServers('which buckets apply (SPEC §2–§3)', () => {
  const gate = useServersGate();

  describe('merging a user’s own limits with their groups’', () => {
    it('takes the largest cap, and the winner’s window', async () => {
      const g = gate();
      const user = uid('u');
      const pro = await g.userGroup([user]);
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'cost', window: 'daily', limit: 5 });
      const groupLimit = await g.limit({
        subjectType: 'user_group',
        subjectId: String(pro.id),
        metric: 'cost',
        window: '24h',
        limit: 10,
      });
      const a = await g.check({ userId: user, model: uid('model') }, T0);
      expect(a.body.buckets).toHaveLength(1);
      expect(bucketOf(a.body, keyOf('user', user, null, 'cost', 'daily'))).toMatchObject({
        window: 'daily',
        reset: 'rolling',
        resetAt: null,
        limit: 10,
        source: { subjectType: 'user_group', subjectId: String(pro.id), limitId: groupLimit.id },
      });
    });

    it('lets a larger own limit win with its calendar window and reset time', async () => {
      const g = gate();
      const user = uid('u');
      const pro = await g.userGroup([user]);
      const own = await g.limit({
        subjectType: 'user',
        subjectId: user,
        metric: 'cost',
        window: 'daily',
        limit: 10,
      });
      await g.limit({
        subjectType: 'user_group',
        subjectId: String(pro.id),
        metric: 'cost',
        window: '1d',
        limit: 5,
      });
      const a = await g.check({ userId: user, model: uid('model') }, T0);
      expect(bucketOf(a.body, keyOf('user', user, null, 'cost', 'daily'))).toMatchObject({
        reset: 'calendar',
        resetAt: iso(TOMORROW),
        limit: 10,
        source: { subjectType: 'user', subjectId: user, limitId: own.id },
      });
    });

    it('breaks a tie for the user’s own limit, then for the group with the smallest id', async () => {
      const g = gate();
      const user = uid('u');
      const first = await g.userGroup([user]);
      const second = await g.userGroup([user]);
      expect(first.id).toBeLessThan(second.id);
      const fromSecond = await g.limit({
        subjectType: 'user_group',
        subjectId: String(second.id),
        metric: 'requests',
        window: '5h',
        limit: 7,
      });
      const fromFirst = await g.limit({
        subjectType: 'user_group',
        subjectId: String(first.id),
        metric: 'requests',
        window: '300m',
        limit: 7,
      });
      const key = keyOf('user', user, null, 'requests', '5h');
      let a = await g.check({ userId: user, model: uid('model') }, T0);
      expect(bucketOf(a.body, key).source).toEqual({
        subjectType: 'user_group',
        subjectId: String(first.id),
        limitId: fromFirst.id,
      });
      expect(fromSecond.id).not.toBe(fromFirst.id);
      const own = await g.limit({
        subjectType: 'user',
        subjectId: user,
        metric: 'requests',
        window: '18000s',
        limit: 7,
      });
      a = await g.check({ userId: user, model: uid('model') }, T0);
      expect(a.body.buckets).toHaveLength(1);
      expect(bucketOf(a.body, key).source).toEqual({ subjectType: 'user', subjectId: user, limitId: own.id });
    });

    it('keeps one counter per bucket whichever source wins', async () => {
      const g = gate();
      const user = uid('u');
      const pro = await g.userGroup([user]);
      const model = uid('model');
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: '1h', limit: 3 });
      await g.reserve({ userId: user, model, requestId: uid('r') }, T0);
      await g.limit(
        { subjectType: 'user_group', subjectId: String(pro.id), metric: 'requests', window: '60m', limit: 5 },
        T0 + 1,
      );
      const a = await g.check({ userId: user, model }, T0 + 2);
      expect(bucketOf(a.body, keyOf('user', user, null, 'requests', '1h'))).toMatchObject({
        used: 1,
        limit: 5,
        source: { subjectType: 'user_group', subjectId: String(pro.id) },
      });
    });
  });

  describe('user groups', () => {
    it('applies groups the request names, ignoring unknown names', async () => {
      const g = gate();
      const user = uid('u');
      const model = uid('model');
      const pro = await g.userGroup();
      await g.limit({
        subjectType: 'user_group',
        subjectId: String(pro.id),
        metric: 'requests',
        window: 'daily',
        limit: 2,
      });
      const without = await g.check({ userId: user, model }, T0);
      expect(without.body.buckets).toEqual([]);
      const named = await g.check({ userId: user, model, groups: ['no-such-group', pro.name] }, T0);
      expectAllowed(named);
      expect(bucketOf(named.body, keyOf('user', user, null, 'requests', 'daily'))).toMatchObject({
        limit: 2,
        source: { subjectType: 'user_group', subjectId: String(pro.id) },
      });
      const unknownOnly = await g.check({ userId: user, model, groups: ['no-such-group'] }, T0);
      expect(unknownOnly.body.buckets).toEqual([]);
    });

    it('gives every member the cap on their own counter', async () => {
      const g = gate();
      const [alice, bob] = [uid('u'), uid('u')];
      const model = uid('model');
      const team = await g.userGroup([alice, bob]);
      await g.limit({
        subjectType: 'user_group',
        subjectId: String(team.id),
        metric: 'requests',
        window: 'daily',
        limit: 2,
      });
      for (let i = 0; i < 2; i++)
        expectAllowed(await g.reserve({ userId: alice, model, requestId: uid('r') }, T0 + i));
      const refused = await g.reserve({ userId: alice, model, requestId: uid('r') }, T0 + 10);
      expectRefusedWithRetry(refused, TOMORROW - T0 - 10);
      const other = await g.reserve({ userId: bob, model, requestId: uid('r') }, T0 + 11);
      expectAllowed(other);
      expect(bucketOf(other.body, keyOf('user', bob, null, 'requests', 'daily'))).toMatchObject({
        used: 1,
        remaining: 1,
      });
    });
  });

  describe('cost split between a model group and all models', () => {
    it('charges a group cost limit instead of the axis’s all-models cost, each axis on its own', async () => {
      const g = gate();
      const [user, key] = [uid('u'), uid('k')];
      const [grouped, loose] = [uid('model'), uid('model')];
      const opus = await g.modelGroup([grouped]);
      await g.limit({
        subjectType: 'user',
        subjectId: user,
        modelGroupId: opus.id,
        metric: 'cost',
        window: '5h',
        limit: 1,
      });
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'cost', window: 'daily', limit: 10 });
      await g.limit({
        subjectType: 'user',
        subjectId: user,
        metric: 'requests',
        window: 'daily',
        limit: 100,
      });
      await g.limit({ subjectType: 'key', subjectId: key, metric: 'cost', window: 'daily', limit: 3 });

      const inGroup = uid('r');
      const reserved = await g.reserve(
        { userId: user, keyId: key, model: grouped, estimatedCostUsd: 0.5, requestId: inGroup },
        T0,
      );
      expectAllowed(reserved);
      expect(reserved.body.buckets.map((b: { key: string }) => b.key)).toEqual([
        keyOf('user', user, opus.id, 'cost', '5h'),
        keyOf('user', user, null, 'requests', 'daily'),
        keyOf('key', key, null, 'cost', 'daily'),
      ]);
      const settled = await g.settle({ requestId: inGroup, costUsd: 0.4 }, T0 + 1000);
      expect(settled.body).toEqual({
        requestId: inGroup,
        status: 'settled',
        duplicate: false,
        costUsd: 0.4,
        countedInUserGlobal: false,
        countedInKeyGlobal: true,
        buckets: [keyOf('user', user, opus.id, 'cost', '5h'), keyOf('key', key, null, 'cost', 'daily')],
      });
      expect(await ledgerRow(g, inGroup)).toMatchObject({
        countedInUserGlobal: false,
        countedInKeyGlobal: true,
        modelGroupId: opus.id,
        costMicros: 400_000,
      });

      const outside = uid('r');
      const direct = await g.settle(
        { requestId: outside, userId: user, keyId: key, model: loose, costUsd: 2 },
        T0 + 2000,
      );
      expect(direct.body).toMatchObject({
        countedInUserGlobal: true,
        countedInKeyGlobal: true,
        buckets: [keyOf('user', user, null, 'cost', 'daily'), keyOf('key', key, null, 'cost', 'daily')],
      });

      const usage = await g.usage({ userId: user, keyId: key }, T0 + 3000);
      expect(bucketOf(usage.body, keyOf('user', user, opus.id, 'cost', '5h'))).toMatchObject({ used: 0.4 });
      expect(bucketOf(usage.body, keyOf('user', user, null, 'cost', 'daily'))).toMatchObject({ used: 2 });
      expect(bucketOf(usage.body, keyOf('key', key, null, 'cost', 'daily'))).toMatchObject({ used: 2.4 });
      expect(bucketOf(usage.body, keyOf('user', user, null, 'requests', 'daily'))).toMatchObject({ used: 2 });
    });

    it('records countedIn*Global false when no all-models cost bucket exists', async () => {
      const g = gate();
      const user = uid('u');
      const requestId = uid('r');
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: 'daily', limit: 5 });
      const settled = await g.settle(
        { requestId, userId: user, keyId: uid('k'), model: uid('model'), costUsd: 1 },
        T0,
      );
      expect(settled.body).toMatchObject({
        countedInUserGlobal: false,
        countedInKeyGlobal: false,
        buckets: [],
      });
    });
  });

  describe('the key axis', () => {
    it('counts a key’s limits on the key’s own buckets and names the key when it refuses', async () => {
      const g = gate();
      const [user, key] = [uid('u'), uid('k')];
      const model = uid('model');
      await g.limit({ subjectType: 'key', subjectId: key, metric: 'requests', window: 'daily', limit: 1 });
      const first = await g.reserve({ userId: user, keyId: key, model, requestId: uid('r') }, T0);
      expectAllowed(first);
      expect(bucketOf(first.body, keyOf('key', key, null, 'requests', 'daily'))).toMatchObject({
        axis: 'key',
        ownerId: key,
        used: 1,
      });
      const refused = await g.reserve({ userId: user, keyId: key, model, requestId: uid('r') }, T0 + 1);
      expectRefusedWithRetry(refused, TOMORROW - T0 - 1);
      expect(refused.body.reason).toBe(`key ${key}: requests daily limit reached on all models`);
      expectAllowed(await g.reserve({ userId: user, model, requestId: uid('r') }, T0 + 2));
      expectAllowed(await g.reserve({ userId: user, keyId: uid('k'), model, requestId: uid('r') }, T0 + 3));
    });
  });
});
