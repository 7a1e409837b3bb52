import { and, eq } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limits, userGroupMembers } from '../../src/db/schema.js';
import { ADMIN, SERVICE, startTestApp, type TestApp } from '../support/app.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

function expectProblem(res: LightMyRequestResponse, status: number, code: string) {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json();
  expect(body).toMatchObject({ status, code, type: `urn:quotagate:problem:${code}` });
  return body;
}

const fields = (body: { errors?: { field: string }[] }) => body.errors?.map((e) => e.field);

describeWithPostgres('admin user groups (PostgreSQL)', () => {
  const getUrl = useTestDatabase();
  let t: TestApp;
  let seq = 0;
  const unique = (prefix: string) => `${prefix}-${++seq}`;
  const call = (method: Method, url: string, payload?: unknown) =>
    t.inject({
      method,
      url,
      headers: ADMIN,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

  beforeAll(async () => {
    t = await startTestApp({ databaseUrl: getUrl() });
  });
  afterAll(async () => {
    await t?.close();
  });

  async function create(name = unique('ug'), description?: string) {
    const res = await call('POST', '/admin/user-groups', { name, ...(description ? { description } : {}) });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: number; name: string };
  }

  const addMembers = (id: number, userIds: string[]) =>
    call('POST', `/admin/user-groups/${id}/members`, { userIds });

  describe('create and read', () => {
    it('creates a group with no members and answers 201 with it', async () => {
      const name = unique('pro');
      const res = await call('POST', '/admin/user-groups', {
        name: ` ${name} `,
        description: 'Paying users',
      });
      expect(res.statusCode).toBe(201);
      const body = res.json();
      expect(body).toMatchObject({ name, description: 'Paying users', members: [], memberCount: 0 });
      expect(res.headers.location).toBe(`/admin/user-groups/${body.id}`);
      expect((await call('GET', `/admin/user-groups/${body.id}`)).json()).toEqual(body);
    });

    it('reads a group with its members sorted', async () => {
      const group = await create();
      await addMembers(group.id, ['u-b', 'u-a', 'U-c']);
      const res = await call('GET', `/admin/user-groups/${group.id}`);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ id: group.id, members: ['U-c', 'u-a', 'u-b'], memberCount: 3 });
    });

    it('lists groups with member counts, including empty groups', async () => {
      const three = await create();
      const none = await create();
      const one = await create();
      await addMembers(three.id, ['l-1', 'l-2', 'l-3']);
      await addMembers(one.id, ['l-1']);
      const res = await call('GET', '/admin/user-groups');
      expect(res.statusCode).toBe(200);
      const items = res.json().items as { id: number; memberCount: number; members?: unknown }[];
      const count = (id: number) => items.find((g) => g.id === id)?.memberCount;
      expect([count(three.id), count(none.id), count(one.id)]).toEqual([3, 0, 1]);
      expect(items.every((g) => g.members === undefined)).toBe(true);
    });
  });

  describe('members', () => {
    it('adds members idempotently, deduplicating and keeping existing ones', async () => {
      const group = await create();
      const first = await addMembers(group.id, ['m-2', 'm-1', 'm-2']);
      expect(first.statusCode).toBe(200);
      expect(first.json()).toMatchObject({ members: ['m-1', 'm-2'], memberCount: 2 });
      const second = await addMembers(group.id, ['m-1', 'm-3']);
      expect(second.json()).toMatchObject({ members: ['m-1', 'm-2', 'm-3'], memberCount: 3 });
      const repeat = await addMembers(group.id, ['m-1', 'm-3']);
      expect(repeat.statusCode).toBe(200);
      expect(repeat.json().members).toEqual(['m-1', 'm-2', 'm-3']);
    });

    it('lets one user belong to several groups', async () => {
      const a = await create();
      const b = await create();
      await addMembers(a.id, ['shared']);
      const res = await addMembers(b.id, ['shared']);
      expect(res.statusCode).toBe(200);
      expect((await call('GET', `/admin/user-groups/${a.id}`)).json().members).toEqual(['shared']);
    });

    it('removes one member, then answers 404 for a non-member', async () => {
      const group = await create();
      await addMembers(group.id, ['r-1', 'r-2']);
      const res = await call('DELETE', `/admin/user-groups/${group.id}/members/r-1`);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ members: ['r-2'], memberCount: 1 });
      const again = await call('DELETE', `/admin/user-groups/${group.id}/members/r-1`);
      expect(expectProblem(again, 404, 'not_found').detail).toContain('r-1');
    });

    it('removes a member whose id needs escaping in the path', async () => {
      const group = await create();
      const odd = 'org/team a:ü?#';
      await addMembers(group.id, [odd, 'plain']);
      const res = await call('DELETE', `/admin/user-groups/${group.id}/members/${encodeURIComponent(odd)}`);
      expect(res.statusCode).toBe(200);
      expect(res.json().members).toEqual(['plain']);
    });

    it.each([
      ['an empty list', { userIds: [] }, 'userIds'],
      ['a control character', { userIds: ['ok', 'bad\u001b'] }, 'userIds.1'],
      ['an empty id', { userIds: [''] }, 'userIds.0'],
      ['an id over 256 characters', { userIds: ['u'.repeat(257)] }, 'userIds.0'],
      ['an unknown field', { userIds: ['ok'], role: 'x' }, 'role'],
      ['a missing list', {}, 'userIds'],
    ])('refuses %s with 400 naming the field', async (_what, body, field) => {
      const group = await create();
      const res = await call('POST', `/admin/user-groups/${group.id}/members`, body);
      expect(fields(expectProblem(res, 400, 'validation_failed'))).toEqual([field]);
    });

    it('refuses a control character in the path user id with 400 naming userId', async () => {
      const group = await create();
      const res = await call('DELETE', `/admin/user-groups/${group.id}/members/a%01b`);
      expect(fields(expectProblem(res, 400, 'validation_failed'))).toEqual(['userId']);
    });
  });

  describe('update and delete', () => {
    it('renames and describes; null clears the description', async () => {
      const group = await create(unique('upd'), 'before');
      const name = unique('upd-new');
      const res = await call('PATCH', `/admin/user-groups/${group.id}`, { name, description: null });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ id: group.id, name, description: null, members: [] });
    });

    it('deletes a group with its memberships and the limits naming it, answering 204 then 404', async () => {
      const group = await create();
      const other = await create();
      await addMembers(group.id, ['d-1']);
      const db = t.database.db;
      const limit = (subjectId: string) => ({
        subjectType: 'user_group',
        subjectId,
        modelGroupId: null,
        metric: 'requests',
        window: 'daily',
        slot: 'daily',
        reset: 'calendar',
        cap: 5,
      });
      await db.insert(limits).values([limit(String(group.id)), limit(String(other.id))]);

      const res = await call('DELETE', `/admin/user-groups/${group.id}`);
      expect(res.statusCode).toBe(204);
      expect(res.body).toBe('');
      expectProblem(await call('GET', `/admin/user-groups/${group.id}`), 404, 'not_found');
      expectProblem(await call('DELETE', `/admin/user-groups/${group.id}`), 404, 'not_found');
      expect(
        await db.select().from(userGroupMembers).where(eq(userGroupMembers.userGroupId, group.id)),
      ).toEqual([]);
      const limitsOf = (id: number) =>
        db
          .select()
          .from(limits)
          .where(and(eq(limits.subjectType, 'user_group'), eq(limits.subjectId, String(id))));
      expect(await limitsOf(group.id)).toEqual([]);
      expect(await limitsOf(other.id)).toHaveLength(1);
    });
  });

  describe('names', () => {
    it('refuses a duplicate name with 409 name_conflict on create and rename', async () => {
      const name = unique('dup');
      await create(name);
      expectProblem(await call('POST', '/admin/user-groups', { name }), 409, 'name_conflict');
      const other = await create();
      expectProblem(await call('PATCH', `/admin/user-groups/${other.id}`, { name }), 409, 'name_conflict');
      expect((await call('GET', `/admin/user-groups/${other.id}`)).json().name).toBe(other.name);
    });

    it('lets a user group share a name with a model group', async () => {
      const name = unique('shared-name');
      expect((await call('POST', '/admin/model-groups', { name })).statusCode).toBe(201);
      await create(name);
    });

    it.each([
      ['a blank name', { name: ' ' }, 'name'],
      ['a name over 100 characters', { name: 'n'.repeat(101) }, 'name'],
      ['a description over 1000 characters', { name: 'ok', description: 'd'.repeat(1001) }, 'description'],
      ['an unknown field', { name: 'ok', members: ['u'] }, 'members'],
      ['a non-string name', { name: 42 }, 'name'],
    ])('refuses %s with 400 naming the field', async (_what, body, field) => {
      const res = await call('POST', '/admin/user-groups', body);
      expect(fields(expectProblem(res, 400, 'validation_failed'))).toEqual([field]);
    });

    it.each(['pro\u0007', 'p\nro', 'a\u0000b', 'a\u200db'])(
      'refuses the name %j with a control or format character, on create and rename',
      async (name) => {
        const created = await call('POST', '/admin/user-groups', { name });
        expect(expectProblem(created, 400, 'validation_failed').errors).toEqual([
          { field: 'name', message: 'must contain only printable characters' },
        ]);
        const group = await create();
        const renamed = await call('PATCH', `/admin/user-groups/${group.id}`, { name });
        expect(fields(expectProblem(renamed, 400, 'validation_failed'))).toEqual(['name']);
        expect((await call('GET', `/admin/user-groups/${group.id}`)).json().name).toBe(group.name);
      },
    );

    it('refuses an empty patch and unknown patch fields with 400', async () => {
      const group = await create();
      expectProblem(await call('PATCH', `/admin/user-groups/${group.id}`, {}), 400, 'validation_failed');
      const res = await call('PATCH', `/admin/user-groups/${group.id}`, { name: 'x', id: 3 });
      expect(fields(expectProblem(res, 400, 'validation_failed'))).toEqual(['id']);
    });
  });

  describe('unknown and malformed ids', () => {
    const missing = 2_000_000_000;

    it.each([
      ['GET', `/admin/user-groups/${missing}`, undefined],
      ['PATCH', `/admin/user-groups/${missing}`, { name: 'nobody-404' }],
      ['DELETE', `/admin/user-groups/${missing}`, undefined],
      ['POST', `/admin/user-groups/${missing}/members`, { userIds: ['u-404'] }],
      ['DELETE', `/admin/user-groups/${missing}/members/u-404`, undefined],
    ] as const)('%s %s answers 404 not_found', async (method, url, body) => {
      expectProblem(await call(method, url, body), 404, 'not_found');
    });

    it.each(['x', '0', '1e99'])('answers 400 naming id for id %s', async (id) => {
      const res = await call('GET', `/admin/user-groups/${id}`);
      expect(fields(expectProblem(res, 400, 'validation_failed'))).toEqual(['id']);
    });
  });

  describe('security', () => {
    it.each([
      ['GET', '/admin/user-groups'],
      ['POST', '/admin/user-groups/1/members'],
      ['DELETE', '/admin/user-groups/1/members/u-1'],
    ] as const)('%s %s answers 401 without a token and 403 with a service token', async (method, url) => {
      expectProblem(await t.inject({ method, url }), 401, 'unauthorized');
      expectProblem(await t.inject({ method, url, headers: SERVICE }), 403, 'forbidden');
    });
  });
});
