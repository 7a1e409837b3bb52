import { describe, expect, it } from 'vitest';
import { describeWithServers } from '../../support/services.js';
import {
  DAY,
  HOUR,
  MINUTE,
  SECOND,
  T0,
  expectProblem,
  keyOf,
  rateLimitT,
  uid,
  useServersGate,
} from '../decisions/support.js';
import { authz, usageBucket } from './support.js';

/** SPEC §7.1: /authz admits like /reserve for requests and sessions, holding nothing. */
describeWithServers('/authz (forward auth)', () => {
  const gate = useServersGate();

  describe('admitted', () => {
    it('answers 200 with an empty body, X-Quota-Request-Id and the RateLimit headers', async () => {
      const g = gate();
      const user = uid('u');
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: '1h', limit: 5 });
      const a = await authz(g, { 'x-quota-user': user, 'x-request-id': 'req-1' }, T0);
      expect(a.status).toBe(200);
      expect(a.raw.body).toBe('');
      expect(a.headers['x-quota-request-id']).toBe('req-1');
      expect(a.headers['x-quota-fail-open']).toBeUndefined();
      const key = keyOf('user', user, null, 'requests', '1h');
      expect(a.headers['ratelimit-policy']).toBe(`"${key}";q=5;w=3600`);
      expect(a.headers['ratelimit']).toBe(`"${key}";r=4;t=3600`);
    });

    it('generates the request id when X-Request-Id is absent', async () => {
      const g = gate();
      const a = await authz(g, { 'x-quota-user': uid('u') }, T0);
      expect(a.status).toBe(200);
      expect(a.headers['x-quota-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('counts the request, and a later /settle charges its cost and counts no second request', async () => {
      const g = gate();
      const user = uid('u');
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: 'daily', limit: 5 });
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'cost', window: 'daily', limit: 10 });
      const a = await authz(g, { 'x-quota-user': user, 'x-quota-estimated-cost': '0.5' }, T0);
      const requestId = String(a.headers['x-quota-request-id']);
      const settled = await g.settle({ requestId, costUsd: 0.25 }, T0 + SECOND);
      expect(settled.status, JSON.stringify(settled.body)).toBe(200);
      expect(settled.body).toMatchObject({ duplicate: false, costUsd: 0.25 });
      const requests = keyOf('user', user, null, 'requests', 'daily');
      const cost = keyOf('user', user, null, 'cost', 'daily');
      expect(await usageBucket(g, { userId: user }, requests, T0 + SECOND)).toMatchObject({ used: 1 });
      expect(await usageBucket(g, { userId: user }, cost, T0 + SECOND)).toMatchObject({
        used: 0.25,
        held: 0,
      });
    });

    it('checks cost buckets against the estimate without holding it', async () => {
      const g = gate();
      const user = uid('u');
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'cost', window: 'daily', limit: 1 });
      const ask = (cost: string) => authz(g, { 'x-quota-user': user, 'x-quota-estimated-cost': cost }, T0);
      expect((await ask('0.6')).status).toBe(200);
      expect((await ask('0.6')).status).toBe(200);
      const key = keyOf('user', user, null, 'cost', 'daily');
      expect(await usageBucket(g, { userId: user }, key, T0)).toMatchObject({ used: 0, held: 0 });
      const refused = await ask('1.2');
      expectProblem(refused, 429, 'rate_limited');
      expect(refused.body.detail).toBe(`user ${user}: cost daily limit reached on all models`);
    });

    it('takes no concurrency slot, and concurrency limits do not refuse it', async () => {
      const g = gate();
      const user = uid('u');
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'concurrency', limit: 1 });
      expect((await g.reserve({ userId: user, model: 'm', requestId: uid('r') }, T0)).status).toBe(200);
      expect((await authz(g, { 'x-quota-user': user }, T0)).status).toBe(200);
      expect((await authz(g, { 'x-quota-user': user }, T0)).status).toBe(200);
      const key = keyOf('user', user, null, 'concurrency', 'concurrent');
      expect(await usageBucket(g, { userId: user }, key, T0)).toMatchObject({ used: 1 });
    });

    it('admits a session: its reconnect passes, a new one past the cap is refused, after a loss of Redis data too', async () => {
      const g = gate();
      const user = uid('u');
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'sessions', window: '1h', limit: 1 });
      const ask = (session: string, now: number) =>
        authz(g, { 'x-quota-user': user, 'x-quota-session': session }, now);
      expect((await ask('s-1', T0)).status).toBe(200);
      expect((await ask('s-1', T0 + MINUTE)).status).toBe(200);
      expectProblem(await ask('s-2', T0 + MINUTE), 429, 'rate_limited');
      await g.settleWriteBehind();
      await g.loseRedisData();
      expectProblem(await ask('s-2', T0 + 2 * MINUTE), 429, 'rate_limited');
      expect((await ask('s-1', T0 + 2 * MINUTE)).status).toBe(200);
    });

    it('a settle charges the buckets frozen at admission, even after the limits changed', async () => {
      const g = gate();
      const user = uid('u');
      const model = uid('model');
      const group = await g.modelGroup([model]);
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'cost', window: 'daily', limit: 10 });
      const a = await authz(g, { 'x-quota-user': user, 'x-quota-model': model }, T0);
      expect(a.status).toBe(200);
      // A group cost limit now would take the spend off the "all models" bucket (SPEC §2.5).
      await g.limit({
        subjectType: 'user',
        subjectId: user,
        modelGroupId: group.id,
        metric: 'cost',
        window: 'daily',
        limit: 10,
      });
      const settled = await g.settle(
        { requestId: String(a.headers['x-quota-request-id']), costUsd: 0.3 },
        T0,
      );
      expect(settled.body.buckets).toEqual([keyOf('user', user, null, 'cost', 'daily')]);
      const query = { userId: user, model };
      expect(await usageBucket(g, query, keyOf('user', user, group.id, 'cost', 'daily'), T0)).toMatchObject({
        used: 0,
      });
    });

    it('a settle after Redis lost its data still counts no second request', async () => {
      const g = gate();
      const user = uid('u');
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: 'daily', limit: 5 });
      const a = await authz(g, { 'x-quota-user': user }, T0);
      await g.settleWriteBehind();
      await g.loseRedisData();
      const settled = await g.settle(
        { requestId: String(a.headers['x-quota-request-id']), costUsd: 0.1 },
        T0,
      );
      expect(settled.status, JSON.stringify(settled.body)).toBe(200);
      const key = keyOf('user', user, null, 'requests', 'daily');
      expect(await usageBucket(g, { userId: user }, key, T0 + SECOND)).toMatchObject({ used: 1 });
    });

    it('without X-Quota-Model only "all models" limits apply', async () => {
      const g = gate();
      const user = uid('u');
      const model = uid('model');
      const group = await g.modelGroup([model]);
      const limit = { subjectType: 'user', subjectId: user, metric: 'requests', window: '1h' };
      await g.limit({ ...limit, modelGroupId: group.id, limit: 0 });
      await g.limit({ ...limit, limit: 5 });
      const a = await authz(g, { 'x-quota-user': user }, T0);
      expect(a.status).toBe(200);
      expect(a.headers['ratelimit-policy']).toContain(keyOf('user', user, null, 'requests', '1h'));
      const withModel = await authz(g, { 'x-quota-user': user, 'x-quota-model': model }, T0);
      expectProblem(withModel, 429, 'rate_limited');
    });

    it('X-Quota-Groups and X-Quota-Key bring their limits in', async () => {
      const g = gate();
      const user = uid('u');
      const key = uid('k');
      const group = await g.userGroup();
      await g.limit({
        subjectType: 'user_group',
        subjectId: String(group.id),
        metric: 'requests',
        window: '1h',
        limit: 0,
      });
      await g.limit({ subjectType: 'key', subjectId: key, metric: 'requests', window: '1h', limit: 1 });
      expect((await authz(g, { 'x-quota-user': user }, T0)).status).toBe(200);
      expectProblem(
        await authz(g, { 'x-quota-user': user, 'x-quota-groups': `x, ${group.name}` }, T0),
        429,
        'rate_limited',
      );
      expect((await authz(g, { 'x-quota-user': user, 'x-quota-key': key }, T0)).status).toBe(200);
      const byKey = await authz(g, { 'x-quota-user': user, 'x-quota-key': key }, T0);
      expect(byKey.body.detail).toBe(`key ${key}: requests 1h limit reached on all models`);
    });

    it('a repeated X-Request-Id is the same admission; another demand under it is a conflict', async () => {
      const g = gate();
      const user = uid('u');
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: 'daily', limit: 5 });
      const headers = { 'x-quota-user': user, 'x-request-id': uid('r') };
      expect((await authz(g, headers, T0)).status).toBe(200);
      expect((await authz(g, headers, T0 + SECOND)).status).toBe(200);
      const key = keyOf('user', user, null, 'requests', 'daily');
      expect(await usageBucket(g, { userId: user }, key, T0 + SECOND)).toMatchObject({ used: 1 });
      expectProblem(
        await authz(g, { ...headers, 'x-quota-estimated-cost': '1' }, T0),
        409,
        'idempotency_conflict',
      );
      // A /reserve is another request: the id is taken.
      const reserved = await g.reserve({ userId: user, model: 'm', requestId: headers['x-request-id'] }, T0);
      expectProblem(reserved, 409, 'idempotency_conflict');
    });
  });

  describe('refused', () => {
    it('past a requests cap: 429, the problem document, Retry-After and the RateLimit headers', async () => {
      const g = gate();
      const user = uid('u');
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: '1h', limit: 2 });
      await authz(g, { 'x-quota-user': user }, T0);
      await authz(g, { 'x-quota-user': user }, T0 + 10 * MINUTE);
      const refused = await authz(g, { 'x-quota-user': user, 'x-request-id': 'again' }, T0 + 20 * MINUTE);
      expectProblem(refused, 429, 'rate_limited');
      expect(refused.body).toMatchObject({
        type: 'urn:quotagate:problem:rate_limited',
        title: 'Quota exceeded',
        detail: `user ${user}: requests 1h limit reached on all models`,
        requestId: 'again',
        retryAfterMs: 40 * MINUTE,
      });
      expect(refused.headers['retry-after']).toBe(String(40 * 60));
      expect(rateLimitT(refused)).toBe(40 * 60);
      expect(refused.headers['ratelimit']).toContain(';r=0;');
      // A refusal is not remembered: the same id is judged afresh once the window frees up.
      expect((await authz(g, { 'x-quota-user': user, 'x-request-id': 'again' }, T0 + HOUR)).status).toBe(200);
    });

    it('a cap of 0 refuses with no Retry-After (no time is known)', async () => {
      const g = gate();
      const user = uid('u');
      await g.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: 'total', limit: 0 });
      const refused = await authz(g, { 'x-quota-user': user }, T0 + DAY);
      expectProblem(refused, 429, 'rate_limited');
      expect(refused.headers['retry-after']).toBeUndefined();
      expect(refused.body.retryAfterMs).toBeNull();
    });
  });
});
