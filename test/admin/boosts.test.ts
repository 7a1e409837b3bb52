import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_MATCHING_LIMIT } from '../../src/admin/boosts.js';
import { boosts } from '../../src/db/schema.js';
import { SERVICE, startTestApp, type TestApp } from '../support/app.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';
import {
  NOW,
  auditOf,
  configVersionOf,
  expectInvalid,
  insertModelGroup,
  insertUserGroup,
  send,
} from './quota-support.js';

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
let subjectSeq = 0;
const nextSubject = () => `u-boosts-${++subjectSeq}`;

describeWithPostgres('/admin/boosts', () => {
  const databaseUrl = useTestDatabase();
  let t: TestApp;
  let opus: number;
  beforeAll(async () => {
    t = await startTestApp({ databaseUrl: databaseUrl() });
    opus = await insertModelGroup(t, 'opus');
  });
  afterAll(() => t?.close());

  const post = (body: Record<string, unknown>, now = NOW) => send(t, 'POST', '/admin/boosts', body, now);
  const putLimit = (body: Record<string, unknown>) => send(t, 'PUT', '/admin/limits', body);
  const costBoost = (extra: Record<string, unknown> = {}) => ({
    subjectType: 'user',
    subjectId: nextSubject(),
    metric: 'cost',
    window: 'daily',
    amount: 5,
    expiresAt: iso(NOW + 24 * HOUR),
    ...extra,
  });

  describe('auth', () => {
    it('answers 401 without a token', async () => {
      expect((await t.inject({ method: 'GET', url: '/admin/boosts' })).statusCode).toBe(401);
    });

    it('answers 403 to a service token', async () => {
      const response = await t.inject({
        method: 'POST',
        url: '/admin/boosts',
        headers: SERVICE,
        payload: costBoost(),
      });
      expect(response.statusCode).toBe(403);
      expect(response.json()).toMatchObject({ code: 'forbidden' });
    });
  });

  describe('POST', () => {
    it('creates a boost (201) starting at the request time, amount in dollars', async () => {
      const body = costBoost({ modelGroupId: opus, amount: '2.5', reason: 'launch week' });
      const response = await post(body);
      expect(response.statusCode).toBe(201);
      expect(response.json()).toEqual({
        id: expect.any(Number),
        subjectType: 'user',
        subjectId: body.subjectId,
        modelGroupId: opus,
        metric: 'cost',
        window: 'daily',
        amount: 2.5,
        startsAt: iso(NOW),
        expiresAt: iso(NOW + 24 * HOUR),
        reason: 'launch week',
        createdAt: iso(NOW),
        warnings: [NO_MATCHING_LIMIT],
      });
      const [row] = await t.database.db.select().from(boosts).where(eq(boosts.id, response.json().id));
      expect(row).toMatchObject({ amount: 2_500_000, slot: 'daily' });
    });

    it('takes an explicit start and counts for requests', async () => {
      const response = await post(
        costBoost({
          metric: 'requests',
          amount: 100,
          startsAt: iso(NOW + HOUR),
          expiresAt: iso(NOW + 2 * HOUR),
        }),
      );
      expect(response.statusCode).toBe(201);
      expect(response.json()).toMatchObject({ amount: 100, startsAt: iso(NOW + HOUR), reason: null });
    });

    it('has no warning when the subject has a limit on the same slot', async () => {
      const subjectId = nextSubject();
      await putLimit({
        subjectType: 'user',
        subjectId,
        modelGroupId: opus,
        metric: 'cost',
        window: '24h',
        limit: 10,
      });
      const response = await post(costBoost({ subjectId, modelGroupId: opus, window: '1d' }));
      expect(response.json().warnings).toEqual([]);
    });

    it('has no warning when a stored user group of the user has the limit', async () => {
      const subjectId = nextSubject();
      const group = await insertUserGroup(t, `pro-${subjectId}`, [subjectId]);
      await putLimit({
        subjectType: 'user_group',
        subjectId: String(group),
        metric: 'cost',
        window: 'daily',
        limit: 10,
      });
      expect((await post(costBoost({ subjectId }))).json().warnings).toEqual([]);
    });

    it('warns when the limit is on another scope, metric, slot or subject type', async () => {
      const subjectId = nextSubject();
      await putLimit({ subjectType: 'user', subjectId, metric: 'cost', window: 'daily', limit: 10 });
      for (const extra of [
        { modelGroupId: opus },
        { metric: 'requests' },
        { window: 'weekly' },
        { subjectType: 'key' },
      ]) {
        expect((await post(costBoost({ subjectId, ...extra }))).json().warnings).toEqual([NO_MATCHING_LIMIT]);
      }
    });

    it('matches a key boost against the key’s limits', async () => {
      const subjectId = nextSubject();
      await putLimit({ subjectType: 'key', subjectId, metric: 'concurrency', limit: 2 });
      const response = await post(
        costBoost({ subjectType: 'key', subjectId, metric: 'concurrency', window: undefined, amount: 1 }),
      );
      expect(response.statusCode).toBe(201);
      expect(response.json()).toMatchObject({ window: null, amount: 1, warnings: [] });
    });

    it('warns when the boost has already expired', async () => {
      const response = await post(costBoost({ startsAt: iso(NOW - 2 * HOUR), expiresAt: iso(NOW - HOUR) }));
      expect(response.statusCode).toBe(201);
      expect(response.json().warnings).toHaveLength(2);
    });

    it('audits the creation and bumps the config version', async () => {
      const version = await configVersionOf(t);
      const created = (await post(costBoost())).json();
      const { warnings: _warnings, ...boost } = created;
      expect(await auditOf(t, 'boost', created.id)).toEqual([
        expect.objectContaining({ actor: 'ops', action: 'boost.create', before: null, after: boost }),
      ]);
      expect(await configVersionOf(t)).toBe(version + 1);
    });
  });

  describe('POST refusals', () => {
    it('needs expiresAt after startsAt', async () => {
      expectInvalid(await post(costBoost({ expiresAt: iso(NOW) })), 'expiresAt');
      expectInvalid(
        await post(costBoost({ startsAt: iso(NOW + 2 * HOUR), expiresAt: iso(NOW + HOUR) })),
        'expiresAt',
      );
      const { expiresAt: _expiresAt, ...missing } = costBoost();
      expectInvalid(await post(missing), 'expiresAt');
      expectInvalid(await post(costBoost({ expiresAt: 'tomorrow' })), 'expiresAt');
    });

    it('needs an amount above 0', async () => {
      expectInvalid(await post(costBoost({ amount: 0 })), 'amount');
      expectInvalid(await post(costBoost({ amount: -5 })), 'amount');
      expectInvalid(await post(costBoost({ amount: '0.0000001' })), 'amount');
      expectInvalid(await post(costBoost({ metric: 'requests', amount: 1.5 })), 'amount');
    });

    it('checks the window like a limit’s', async () => {
      expectInvalid(await post(costBoost({ window: 'fortnightly' })), 'window');
      expectInvalid(await post(costBoost({ window: '401d' })), 'window');
      expectInvalid(await post(costBoost({ window: undefined })), 'window');
      expectInvalid(await post(costBoost({ metric: 'concurrency', window: '5h', amount: 1 })), 'window');
    });

    it('takes users and keys only, and no unknown fields', async () => {
      expectInvalid(await post(costBoost({ subjectType: 'user_group', subjectId: '1' })), 'subjectType');
      expectInvalid(await post(costBoost({ subjectId: '' })), 'subjectId');
      expect((await post(costBoost({ reset: 'rolling' }))).statusCode).toBe(400);
    });

    it('answers 404 for a model group that does not exist and writes nothing', async () => {
      const subjectId = nextSubject();
      const response = await post(costBoost({ subjectId, modelGroupId: 9999 }));
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: 'not_found', detail: 'model group 9999 does not exist' });
      expect(await t.database.db.select().from(boosts).where(eq(boosts.subjectId, subjectId))).toEqual([]);
    });
  });

  describe('GET', () => {
    const subjectId = 'u-boost-list';
    let past: number, current: number, future: number, keyBoost: number;
    beforeAll(async () => {
      const make = async (extra: Record<string, unknown>) =>
        (await post(costBoost({ subjectId, ...extra }))).json().id;
      past = await make({ startsAt: iso(NOW - 2 * HOUR), expiresAt: iso(NOW - HOUR) });
      current = await make({ startsAt: iso(NOW - HOUR), expiresAt: iso(NOW + HOUR) });
      future = await make({ startsAt: iso(NOW + HOUR), expiresAt: iso(NOW + 2 * HOUR) });
      keyBoost = await make({ subjectType: 'key' });
    });

    const list = async (query: string, now = NOW) => {
      const response = await send(t, 'GET', `/admin/boosts?${query}`, undefined, now);
      expect(response.statusCode, response.body).toBe(200);
      return response.json().items.map((b: { id: number }) => b.id);
    };

    it('filters by subject', async () => {
      expect(await list(`subjectId=${subjectId}`)).toEqual([past, current, future, keyBoost]);
      expect(await list(`subjectType=user&subjectId=${subjectId}`)).toEqual([past, current, future]);
    });

    it('judges active at the request time: startsAt inclusive, expiresAt exclusive', async () => {
      const q = `subjectType=user&subjectId=${subjectId}`;
      expect(await list(`${q}&active=true`)).toEqual([current]);
      expect(await list(`${q}&active=false`)).toEqual([past, future]);
      expect(await list(`${q}&active=true`, NOW + HOUR)).toEqual([future]);
      expect(await list(`${q}&active=true`, NOW + HOUR - 1)).toEqual([current]);
    });

    it('refuses bad filters', async () => {
      expectInvalid(await send(t, 'GET', '/admin/boosts?active=yes'), 'active');
      expectInvalid(await send(t, 'GET', '/admin/boosts?subjectType=user_group'), 'subjectType');
    });
  });

  describe('GET by id', () => {
    it('reads the boost its 201 names in Location; 404 when absent', async () => {
      const created = await post(costBoost({ reason: 'launch' }));
      expect(created.statusCode).toBe(201);
      const { warnings: _warnings, ...boost } = created.json();
      expect(created.headers.location).toBe(`/admin/boosts/${boost.id}`);
      const read = await send(t, 'GET', created.headers.location as string);
      expect(read.statusCode).toBe(200);
      expect(read.json()).toEqual(boost);
      const missing = await send(t, 'GET', '/admin/boosts/999999');
      expect(missing.json()).toMatchObject({ code: 'not_found', detail: 'boost 999999 does not exist' });
      expectInvalid(await send(t, 'GET', '/admin/boosts/abc'), 'id');
    });
  });

  describe('DELETE', () => {
    it('revokes (204): gone from the list at once, audited, 404 after', async () => {
      const subjectId = nextSubject();
      const created = (await post(costBoost({ subjectId }))).json();
      const { warnings: _warnings, ...boost } = created;
      const response = await send(t, 'DELETE', `/admin/boosts/${created.id}`);
      expect(response.statusCode).toBe(204);
      expect((await send(t, 'GET', `/admin/boosts?subjectId=${subjectId}&active=true`)).json().items).toEqual(
        [],
      );
      const rows = await auditOf(t, 'boost', created.id);
      expect(rows.at(-1)).toMatchObject({ action: 'boost.revoke', before: boost, after: null });
      const again = await send(t, 'DELETE', `/admin/boosts/${created.id}`);
      expect(again.statusCode).toBe(404);
      expect(again.json()).toMatchObject({ code: 'not_found', detail: `boost ${created.id} does not exist` });
      expectInvalid(await send(t, 'DELETE', '/admin/boosts/0'), 'id');
    });
  });
});
