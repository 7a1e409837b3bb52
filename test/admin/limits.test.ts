import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limits } from '../../src/db/schema.js';
import { WINDOW_FORMS } from '../../src/domain/window-spec.js';
import { ROW_ID_MESSAGE } from '../../src/http/schemas/row-id.js';
import { ADMIN, SERVICE, startTestApp, type TestApp } from '../support/app.js';
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

let subjectSeq = 0;
/** Each test writes its own subject, so natural keys never collide across tests. */
const nextSubject = () => `u-limits-${++subjectSeq}`;

describeWithPostgres('/admin/limits', () => {
  const databaseUrl = useTestDatabase();
  let t: TestApp;
  let opus: number;
  beforeAll(async () => {
    t = await startTestApp({ databaseUrl: databaseUrl() });
    opus = await insertModelGroup(t, 'opus');
  });
  afterAll(() => t?.close());

  const put = (body: Record<string, unknown>, now = NOW) => send(t, 'PUT', '/admin/limits', body, now);
  const costLimit = (extra: Record<string, unknown> = {}) => ({
    subjectType: 'user',
    subjectId: nextSubject(),
    metric: 'cost',
    window: '5h',
    limit: 10.5,
    ...extra,
  });

  describe('auth', () => {
    it('answers 401 without a token', async () => {
      const response = await t.inject({ method: 'GET', url: '/admin/limits' });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ code: 'unauthorized' });
    });

    it('answers 403 to a service token', async () => {
      const response = await t.inject({
        method: 'PUT',
        url: '/admin/limits',
        headers: SERVICE,
        payload: costLimit(),
      });
      expect(response.statusCode).toBe(403);
      expect(response.json()).toMatchObject({ code: 'forbidden' });
    });
  });

  describe('PUT', () => {
    it('creates a limit (201) and answers the Limit object with the cap in dollars', async () => {
      const body = costLimit({ modelGroupId: opus });
      const response = await put(body);
      expect(response.statusCode).toBe(201);
      const limit = response.json();
      expect(limit).toEqual({
        id: expect.any(Number),
        subjectType: 'user',
        subjectId: body.subjectId,
        modelGroupId: opus,
        metric: 'cost',
        window: '5h',
        reset: 'rolling',
        anchor: null,
        timezone: null,
        resetTime: null,
        limit: 10.5,
        mode: 'enforce',
        alertAt: [],
        override: false,
        createdAt: new Date(NOW).toISOString(),
        updatedAt: new Date(NOW).toISOString(),
      });
      const [row] = await t.database.db.select().from(limits).where(eq(limits.id, limit.id));
      expect(row).toMatchObject({ cap: 10_500_000, slot: '5h', window: '5h' });
    });

    it('names the created limit in Location; a replacement (200) has none', async () => {
      const subjectId = nextSubject();
      const created = await put(costLimit({ subjectId }));
      expect(created.statusCode).toBe(201);
      expect(created.headers.location).toBe(`/admin/limits/${created.json().id}`);
      const read = await send(t, 'GET', created.headers.location as string);
      expect(read.json()).toEqual(created.json());
      const replaced = await put(costLimit({ subjectId, limit: 2 }));
      expect(replaced.statusCode).toBe(200);
      expect(replaced.headers.location).toBeUndefined();
    });

    it('replaces the limit of the same slot (200): 5h, 300m and 18000s are one', async () => {
      const subjectId = nextSubject();
      const first = await put(costLimit({ subjectId, window: '5h', limit: 10 }));
      expect(first.statusCode).toBe(201);
      const second = await put(costLimit({ subjectId, window: '300m', limit: '12.25' }), NOW + 60_000);
      expect(second.statusCode).toBe(200);
      expect(second.json()).toMatchObject({
        id: first.json().id,
        window: '300m',
        limit: 12.25,
        createdAt: new Date(NOW).toISOString(),
        updatedAt: new Date(NOW + 60_000).toISOString(),
      });
      const third = await put(costLimit({ subjectId, window: '18000s', limit: 1 }));
      expect(third.statusCode).toBe(200);
      expect(third.json().id).toBe(first.json().id);
      const rows = await t.database.db.select().from(limits).where(eq(limits.subjectId, subjectId));
      expect(rows).toHaveLength(1);
    });

    it('replaces an all-models limit too (null scope is one key)', async () => {
      const subjectId = nextSubject();
      expect((await put(costLimit({ subjectId }))).statusCode).toBe(201);
      const again = await put(costLimit({ subjectId, modelGroupId: null, limit: 3 }));
      expect(again.statusCode).toBe(200);
      expect(again.json()).toMatchObject({ modelGroupId: null, limit: 3 });
    });

    it('keeps scopes, metrics and slots apart', async () => {
      const subjectId = nextSubject();
      const statuses = [];
      for (const extra of [
        {},
        { modelGroupId: opus },
        { metric: 'requests', limit: 100 },
        { window: 'daily' },
        { subjectType: 'key' },
      ]) {
        statuses.push((await put(costLimit({ subjectId, ...extra }))).statusCode);
      }
      expect(statuses).toEqual([201, 201, 201, 201, 201]);
    });

    it('takes decimal strings exactly and allows 0 (blocked)', async () => {
      const micro = await put(costLimit({ limit: '0.000001' }));
      expect(micro.json().limit).toBe(0.000001);
      const zero = await put(costLimit({ limit: 0 }));
      expect(zero.statusCode).toBe(201);
      expect(zero.json().limit).toBe(0);
    });

    it('stores counts for requests, sessions and concurrency', async () => {
      const requests = await put({
        subjectType: 'key',
        subjectId: nextSubject(),
        metric: 'requests',
        window: '1d',
        limit: '500',
      });
      expect(requests.json()).toMatchObject({ limit: 500, window: '1d', reset: 'rolling' });
      const sessions = await put({
        subjectType: 'user',
        subjectId: nextSubject(),
        metric: 'sessions',
        window: '20h',
        limit: 5,
      });
      expect(sessions.json()).toMatchObject({ limit: 5, window: '20h' });
      const concurrency = await put({
        subjectType: 'user',
        subjectId: nextSubject(),
        metric: 'concurrency',
        limit: 2,
      });
      expect(concurrency.statusCode).toBe(201);
      expect(concurrency.json()).toMatchObject({ window: null, reset: null, limit: 2 });
    });

    it('defaults and stores calendar, fixed and first_use window settings', async () => {
      const calendar = await put(
        costLimit({ window: 'daily', timezone: 'Europe/Berlin', resetTime: '04:30' }),
      );
      expect(calendar.json()).toMatchObject({
        reset: 'calendar',
        timezone: 'Europe/Berlin',
        resetTime: '04:30',
      });
      const monthly = await put(costLimit({ window: 'monthly' }));
      expect(monthly.json()).toMatchObject({ reset: 'calendar', timezone: null, resetTime: null });
      const fixed = await put(costLimit({ reset: 'fixed', anchor: '2027-01-01T06:00:00+01:00' }));
      expect(fixed.json()).toMatchObject({ reset: 'fixed', anchor: '2027-01-01T05:00:00.000Z' });
      const fixedEpoch = await put(costLimit({ reset: 'fixed' }));
      expect(fixedEpoch.json()).toMatchObject({ reset: 'fixed', anchor: null });
      const firstUse = await put(costLimit({ reset: 'first_use' }));
      expect(firstUse.json()).toMatchObject({ reset: 'first_use' });
      const total = await put(costLimit({ window: 'total' }));
      expect(total.json()).toMatchObject({ window: 'total', reset: null });
    });

    it('accepts a user_group subject by the id of an existing group', async () => {
      const group = await insertUserGroup(t, 'pro');
      const response = await put(costLimit({ subjectType: 'user_group', subjectId: String(group) }));
      expect(response.statusCode).toBe(201);
      expect(response.json()).toMatchObject({ subjectType: 'user_group', subjectId: String(group) });
    });

    it('records the change in the audit log with before and after, in the version bump', async () => {
      const subjectId = nextSubject();
      const versionBefore = await configVersionOf(t);
      const created = (await put(costLimit({ subjectId, limit: 1 }))).json();
      const replaced = (await put(costLimit({ subjectId, limit: 2 }))).json();
      const rows = await auditOf(t, 'limit', created.id);
      expect(rows.map((r) => [r.actor, r.action])).toEqual([
        ['ops', 'limit.upsert'],
        ['ops', 'limit.upsert'],
      ]);
      expect(rows[0]).toMatchObject({ before: null, after: created });
      expect(rows[1]).toMatchObject({ before: created, after: replaced });
      expect(await configVersionOf(t)).toBe(versionBefore + 2);
    });

    it('answers exactly one 201 when writers of a new key race, and audits each replace', async () => {
      const subjectId = nextSubject();
      const responses = await Promise.all(
        [1, 2, 3, 4, 5].map((limit) => put(costLimit({ subjectId, limit }))),
      );
      expect(responses.map((r) => r.statusCode).sort()).toEqual([200, 200, 200, 200, 201]);
      const rows = await auditOf(t, 'limit', responses[0]!.json().id);
      expect(rows.filter((r) => r.before === null)).toHaveLength(1);
      // Each replace saw exactly the previous write: the audit is one unbroken chain.
      for (let i = 1; i < rows.length; i++) expect(rows[i]!.before).toEqual(rows[i - 1]!.after);
    });

    it('has the instance serve the new config version before it answers', async () => {
      await put(costLimit());
      const ready = await t.inject({ method: 'GET', url: '/readyz' });
      expect(ready.json().configVersion).toBe(await configVersionOf(t));
      const listed = await send(t, 'GET', `/admin/limits?subjectId=u-limits-${subjectSeq}`);
      expect(listed.json().items).toHaveLength(1);
    });
  });

  describe('PUT refusals', () => {
    it('needs limit, saying what it takes', async () => {
      const { limit: _limit, ...body } = costLimit();
      const response = await put(body);
      expectInvalid(response, 'limit');
      expect(response.json().errors).toEqual([
        { field: 'limit', message: 'required: a number (US dollars for cost) or a decimal string' },
      ]);
      const wrongType = (await put(costLimit({ limit: true }))).json();
      expect(wrongType.errors).toEqual([
        {
          field: 'limit',
          message: 'expected a number (US dollars for cost) or a decimal string, received a boolean',
        },
      ]);
    });

    it('refuses a negative limit', async () => {
      expectInvalid(await put(costLimit({ limit: -1 })), 'limit');
      expectInvalid(await put(costLimit({ limit: '-0.5' })), 'limit');
    });

    it('refuses cost with more than 6 decimals', async () => {
      expectInvalid(await put(costLimit({ limit: 0.0000001 })), 'limit');
      expectInvalid(await put(costLimit({ limit: '1.1234567' })), 'limit');
    });

    it('refuses a non-finite or non-numeric limit', async () => {
      const body = JSON.stringify(costLimit()).replace('10.5', '1e400');
      expectInvalid(
        await t.inject({
          method: 'PUT',
          url: '/admin/limits',
          headers: { ...ADMIN, 'content-type': 'application/json' },
          payload: body,
        }),
        'limit',
      );
      expectInvalid(await put(costLimit({ limit: 'lots' })), 'limit');
      expectInvalid(await put(costLimit({ limit: null })), 'limit');
    });

    it('refuses a fractional count', async () => {
      expectInvalid(await put(costLimit({ metric: 'requests', limit: 2.5 })), 'limit');
    });

    it('refuses an unknown window', async () => {
      expectInvalid(await put(costLimit({ window: 'hourly' })), 'window');
      expectInvalid(await put(costLimit({ window: '5 h' })), 'window');
    });

    it('refuses a custom window outside 1 s – 400 d, naming every accepted form', async () => {
      for (const window of ['0s', '401d', 'hourly']) {
        const response = await put(costLimit({ window }));
        expectInvalid(response, 'window');
        expect(response.json().errors).toEqual([{ field: 'window', message: WINDOW_FORMS }]);
      }
      expect(WINDOW_FORMS).toBe(
        'must be a window length: 5h, daily, weekly, monthly, total or <n>s/m/h/d between 1 s and 400 d',
      );
      expect((await put(costLimit({ window: '400d' }))).statusCode).toBe(201);
      expect((await put(costLimit({ window: '1s' }))).statusCode).toBe(201);
    });

    it('refuses a window on concurrency and none on the other metrics', async () => {
      expectInvalid(await put(costLimit({ metric: 'concurrency', limit: 1 })), 'window');
      expectInvalid(await put(costLimit({ window: undefined })), 'window');
      expectInvalid(await put(costLimit({ metric: 'sessions', window: null, limit: 1 })), 'window');
    });

    it('refuses a reset the window does not allow', async () => {
      expectInvalid(await put(costLimit({ window: 'monthly', reset: 'fixed' })), 'reset');
      expectInvalid(await put(costLimit({ window: 'monthly', reset: 'first_use' })), 'reset');
      expectInvalid(await put(costLimit({ window: 'total', reset: 'rolling' })), 'reset');
      expectInvalid(await put(costLimit({ window: '5h', reset: 'calendar' })), 'reset');
      expectInvalid(await put(costLimit({ reset: 'sometimes' })), 'reset');
    });

    it('takes anchor only with fixed, as an ISO-8601 date-time', async () => {
      expectInvalid(await put(costLimit({ anchor: '2027-01-01T00:00:00Z' })), 'anchor');
      expectInvalid(await put(costLimit({ reset: 'fixed', anchor: 'monday' })), 'anchor');
    });

    it('takes timezone only with calendar, as an IANA name', async () => {
      expectInvalid(await put(costLimit({ timezone: 'Europe/Berlin' })), 'timezone');
      expectInvalid(await put(costLimit({ window: 'daily', reset: 'rolling', timezone: 'UTC' })), 'timezone');
      expectInvalid(await put(costLimit({ window: 'daily', timezone: 'Atlantis/Capital' })), 'timezone');
    });

    it('takes resetTime only with calendar, as HH:MM', async () => {
      expectInvalid(await put(costLimit({ resetTime: '04:00' })), 'resetTime');
      expectInvalid(await put(costLimit({ window: 'weekly', resetTime: '24:00' })), 'resetTime');
      expectInvalid(await put(costLimit({ window: 'weekly', resetTime: '4am' })), 'resetTime');
    });

    it('refuses a bad subject', async () => {
      expectInvalid(await put(costLimit({ subjectId: '' })), 'subjectId');
      expectInvalid(await put(costLimit({ subjectId: 'u'.repeat(257) })), 'subjectId');
      expectInvalid(await put(costLimit({ subjectId: 'u\u0000x' })), 'subjectId');
      expectInvalid(await put(costLimit({ subjectType: 'team' })), 'subjectType');
      expectInvalid(await put(costLimit({ subjectType: 'user_group', subjectId: 'pro' })), 'subjectId');
    });

    it('refuses an unknown metric, a bad modelGroupId and unknown fields', async () => {
      expectInvalid(await put(costLimit({ metric: 'bananas' })), 'metric');
      expectInvalid(await put(costLimit({ modelGroupId: 0 })), 'modelGroupId');
      expectInvalid(await put(costLimit({ modelGroupId: '3' })), 'modelGroupId');
      const unknown = await put(costLimit({ cap: 5 }));
      expect(unknown.statusCode).toBe(400);
      expect(unknown.json()).toMatchObject({ code: 'validation_failed' });
    });

    it('answers 404 for a model group that does not exist', async () => {
      const response = await put(costLimit({ modelGroupId: 9999 }));
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: 'not_found', detail: 'model group 9999 does not exist' });
    });

    it('answers 404 for a user group that does not exist', async () => {
      const response = await put(costLimit({ subjectType: 'user_group', subjectId: '424242' }));
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({
        code: 'not_found',
        detail: 'user group 424242 does not exist',
      });
    });

    it('writes nothing when refused: no row, no audit, no version bump', async () => {
      const subjectId = nextSubject();
      const version = await configVersionOf(t);
      expect((await put(costLimit({ subjectId, modelGroupId: 9999 }))).statusCode).toBe(404);
      expect((await put(costLimit({ subjectId, limit: -1 }))).statusCode).toBe(400);
      expect(await t.database.db.select().from(limits).where(eq(limits.subjectId, subjectId))).toEqual([]);
      expect(await configVersionOf(t)).toBe(version);
    });
  });

  describe('defaults (everyone) and overrides', () => {
    it('writes a default limit for everyone with subject id "*"', async () => {
      const response = await put({
        subjectType: 'everyone',
        subjectId: '*',
        metric: 'cost',
        window: '7h',
        limit: 3,
      });
      expect(response.statusCode, response.body).toBe(201);
      expect(response.json()).toMatchObject({
        subjectType: 'everyone',
        subjectId: '*',
        limit: 3,
        override: false,
      });
      const listed = await send(t, 'GET', '/admin/limits?subjectType=everyone');
      expect(listed.json().items.map((l: { id: number }) => l.id)).toContain(response.json().id);
    });

    it('refuses an everyone limit with any other subject id, naming subjectId', async () => {
      for (const subjectId of ['all', '**', ' *', 'u-42']) {
        const response = await put({
          subjectType: 'everyone',
          subjectId,
          metric: 'cost',
          window: '7h',
          limit: 3,
        });
        expectInvalid(response, 'subjectId');
        expect(response.json().errors).toEqual([
          { field: 'subjectId', message: 'for everyone, must be "*"' },
        ]);
      }
    });

    it('stores override on a user limit and carries it in get, list and audit', async () => {
      const subjectId = nextSubject();
      const created = await put(costLimit({ subjectId, limit: 0, override: true }));
      expect(created.statusCode, created.body).toBe(201);
      expect(created.json()).toMatchObject({ limit: 0, override: true });
      const [row] = await t.database.db.select().from(limits).where(eq(limits.id, created.json().id));
      expect(row).toMatchObject({ override: true, cap: 0 });
      expect((await send(t, 'GET', `/admin/limits/${created.json().id}`)).json()).toEqual(created.json());
      const listed = (await send(t, 'GET', `/admin/limits?subjectId=${subjectId}`)).json();
      expect(listed.items).toEqual([created.json()]);
      const [audit] = await auditOf(t, 'limit', created.json().id);
      expect(audit).toMatchObject({ before: null, after: { override: true } });
    });

    it('treats override as a field, not part of the key: rewriting the key replaces it', async () => {
      const subjectId = nextSubject();
      const first = (await put(costLimit({ subjectId, override: true }))).json();
      const second = await put(costLimit({ subjectId }));
      expect(second.statusCode).toBe(200);
      expect(second.json()).toMatchObject({ id: first.id, override: false });
      const third = await put(costLimit({ subjectId, override: null }));
      expect(third.json()).toMatchObject({ id: first.id, override: false });
      const rows = await auditOf(t, 'limit', first.id);
      expect(rows[1]).toMatchObject({ before: { override: true }, after: { override: false } });
      const stored = await t.database.db.select().from(limits).where(eq(limits.subjectId, subjectId));
      expect(stored).toHaveLength(1);
    });

    it('refuses override on a group, key or everyone limit, naming override', async () => {
      const group = await insertUserGroup(t, 'override-refused');
      const version = await configVersionOf(t);
      const bodies = [
        { subjectType: 'user_group', subjectId: String(group) },
        { subjectType: 'key', subjectId: 'k-override' },
        { subjectType: 'everyone', subjectId: '*' },
      ];
      for (const subject of bodies) {
        const response = await put(costLimit({ ...subject, override: true }));
        expectInvalid(response, 'override');
        expect(response.json().errors).toEqual([
          { field: 'override', message: 'only on a user limit (subjectType user)' },
        ]);
        expect((await put(costLimit({ ...subject, override: false }))).statusCode).toBe(201);
      }
      expect(await configVersionOf(t)).toBe(version + bodies.length);
    });

    it('refuses an override that is not a boolean', async () => {
      expectInvalid(await put(costLimit({ override: 'yes' })), 'override');
      expectInvalid(await put(costLimit({ override: 1 })), 'override');
    });
  });

  describe('GET', () => {
    const subjectId = 'u-list';
    let ids: number[] = [];
    beforeAll(async () => {
      const bodies = [
        { subjectType: 'user', subjectId, metric: 'cost', window: '5h', limit: 1 },
        { subjectType: 'user', subjectId, modelGroupId: opus, metric: 'cost', window: '5h', limit: 2 },
        { subjectType: 'user', subjectId, metric: 'requests', window: 'daily', limit: 3 },
        { subjectType: 'key', subjectId, metric: 'cost', window: 'weekly', limit: 4 },
      ];
      ids = [];
      for (const body of bodies) ids.push((await put(body)).json().id);
    });

    const list = async (query: string) => {
      const response = await send(t, 'GET', `/admin/limits?${query}`);
      expect(response.statusCode, response.body).toBe(200);
      return response.json().items.map((l: { id: number }) => l.id);
    };

    it('filters by subject, scope and metric', async () => {
      expect(await list(`subjectId=${subjectId}`)).toEqual(ids);
      expect(await list(`subjectType=user&subjectId=${subjectId}`)).toEqual(ids.slice(0, 3));
      expect(await list(`subjectId=${subjectId}&modelGroupId=${opus}`)).toEqual([ids[1]]);
      expect(await list(`subjectId=${subjectId}&metric=requests`)).toEqual([ids[2]]);
    });

    it('takes modelGroupId=all or null for the all-models scope', async () => {
      const allModels = [ids[0], ids[2], ids[3]];
      expect(await list(`subjectId=${subjectId}&modelGroupId=all`)).toEqual(allModels);
      expect(await list(`subjectId=${subjectId}&modelGroupId=null`)).toEqual(allModels);
    });

    it('refuses bad filters', async () => {
      expectInvalid(await send(t, 'GET', '/admin/limits?modelGroupId=opus'), 'modelGroupId');
      expectInvalid(await send(t, 'GET', '/admin/limits?metric=bananas'), 'metric');
      expect((await send(t, 'GET', '/admin/limits?subject=u-1')).statusCode).toBe(400);
    });

    it('reads one limit by id, 404 when absent, 400 for a bad id', async () => {
      const one = await send(t, 'GET', `/admin/limits/${ids[1]}`);
      expect(one.statusCode).toBe(200);
      expect(one.json()).toMatchObject({ id: ids[1], modelGroupId: opus, limit: 2 });
      const missing = await send(t, 'GET', '/admin/limits/999999');
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toMatchObject({ code: 'not_found', detail: 'limit 999999 does not exist' });
      expectInvalid(await send(t, 'GET', '/admin/limits/abc'), 'id');
    });

    it('says one thing about any bad id: not a number, zero, fractional or past int4', async () => {
      for (const id of ['abc', '0', '-1', '1.5', '2147483648', '99999999999999999999']) {
        const response = await send(t, 'GET', `/admin/limits/${id}`);
        expectInvalid(response, 'id');
        expect(response.json().errors, id).toEqual([{ field: 'id', message: ROW_ID_MESSAGE }]);
      }
      expect(ROW_ID_MESSAGE).toBe('must be a positive integer id (1 to 2147483647)');
    });

    it('names the model group id filter’s forms', async () => {
      const response = await send(t, 'GET', '/admin/limits?modelGroupId=opus');
      expect(response.json().errors).toEqual([
        { field: 'modelGroupId', message: 'must be a model group id (1 to 2147483647), all or null' },
      ]);
    });
  });

  describe('DELETE', () => {
    it('deletes (204), audits the removed limit, and 404s after', async () => {
      const created = (await put(costLimit())).json();
      const response = await send(t, 'DELETE', `/admin/limits/${created.id}`);
      expect(response.statusCode).toBe(204);
      expect(response.body).toBe('');
      expect((await send(t, 'GET', `/admin/limits/${created.id}`)).statusCode).toBe(404);
      const rows = await auditOf(t, 'limit', created.id);
      expect(rows.at(-1)).toMatchObject({
        actor: 'ops',
        action: 'limit.delete',
        before: created,
        after: null,
      });
      expect((await send(t, 'DELETE', `/admin/limits/${created.id}`)).statusCode).toBe(404);
    });
  });
});

describe('/admin/limits on embedded PostgreSQL (PGlite)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());

  it('creates, replaces, lists and deletes', async () => {
    const group = await insertModelGroup(t, 'sonnet');
    const body = {
      subjectType: 'user',
      subjectId: 'u-1',
      modelGroupId: group,
      metric: 'cost',
      window: '5h',
      limit: 1,
    };
    const created = await send(t, 'PUT', '/admin/limits', body);
    expect(created.statusCode).toBe(201);
    const replaced = await send(t, 'PUT', '/admin/limits', { ...body, window: '300m', limit: 2 });
    expect(replaced.statusCode).toBe(200);
    expect(replaced.json()).toMatchObject({ id: created.json().id, limit: 2 });
    const listed = await send(t, 'GET', '/admin/limits?subjectId=u-1');
    expect(listed.json().items).toHaveLength(1);
    expect((await send(t, 'DELETE', `/admin/limits/${created.json().id}`)).statusCode).toBe(204);
  });
});
