import { eq } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boosts, limits } from '../../src/db/schema.js';
import { ADMIN, SERVICE, startTestApp, type TestApp } from '../support/app.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

const call = (t: TestApp, method: Method, url: string, payload?: unknown) =>
  t.inject({ method, url, headers: ADMIN, ...(payload === undefined ? {} : { payload: payload as object }) });

/** Asserts a problem document and returns it. */
function expectProblem(res: LightMyRequestResponse, status: number, code: string) {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json();
  expect(body).toMatchObject({ status, code, type: `urn:quotagate:problem:${code}` });
  expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+/);
  return body;
}

const fields = (body: { errors?: { field: string }[] }) => body.errors?.map((e) => e.field);

describeWithPostgres('admin model groups (PostgreSQL)', () => {
  const getUrl = useTestDatabase();
  let t: TestApp;
  let seq = 0;
  const unique = (prefix: string) => `${prefix}-${++seq}`;

  beforeAll(async () => {
    t = await startTestApp({ databaseUrl: getUrl() });
  });
  afterAll(async () => {
    await t?.close();
  });

  async function create(body: { name: string; description?: string; models?: string[] }) {
    const res = await call(t, 'POST', '/admin/model-groups', body);
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: number; name: string; models: string[] };
  }

  describe('create and read', () => {
    it('creates a group with its models deduplicated and sorted, trims the name, answers 201', async () => {
      const name = unique('opus');
      const res = await call(t, 'POST', '/admin/model-groups', {
        name: `  ${name} `,
        description: 'Most capable',
        models: ['opus-b', 'opus-a', 'opus-b'],
      });
      expect(res.statusCode).toBe(201);
      const body = res.json();
      expect(body).toMatchObject({ name, description: 'Most capable', models: ['opus-a', 'opus-b'] });
      expect(res.headers.location).toBe(`/admin/model-groups/${body.id}`);
      expect(new Date(body.createdAt).toISOString()).toBe(body.createdAt);

      const read = await call(t, 'GET', `/admin/model-groups/${body.id}`);
      expect(read.statusCode).toBe(200);
      expect(read.json()).toEqual(body);
    });

    it('creates a group without models', async () => {
      const group = await create({ name: unique('empty') });
      expect(group.models).toEqual([]);
      expect(group).toMatchObject({ description: null });
    });

    it('lists every group with its models', async () => {
      const a = await create({ name: unique('list-a'), models: ['list-z', 'list-y'] });
      const b = await create({ name: unique('list-b') });
      const res = await call(t, 'GET', '/admin/model-groups');
      expect(res.statusCode).toBe(200);
      const items = res.json().items as { id: number; models: string[] }[];
      expect(items.find((g) => g.id === a.id)?.models).toEqual(['list-y', 'list-z']);
      expect(items.find((g) => g.id === b.id)?.models).toEqual([]);
      expect(items.map((g) => g.id)).toEqual([...items.map((g) => g.id)].sort((x, y) => x - y));
    });

    it('compares model ids case-sensitively', async () => {
      const lower = await create({ name: unique('lower'), models: ['case-model'] });
      const upper = await create({ name: unique('upper'), models: ['CASE-MODEL'] });
      expect(lower.models).toEqual(['case-model']);
      expect(upper.models).toEqual(['CASE-MODEL']);
    });

    it('accepts a model id of 256 printable characters, including non-ASCII and slashes', async () => {
      const long = `z-ai/glm-${'é'.repeat(247)}`;
      expect(long).toHaveLength(256);
      const group = await create({ name: unique('long'), models: [long] });
      expect(group.models).toEqual([long]);
    });
  });

  describe('resolve', () => {
    it('names the group a model belongs to and the entry that matched', async () => {
      const group = await create({ name: unique('resolve'), models: ['resolve-me'] });
      const res = await call(t, 'GET', '/admin/models/resolve?model=resolve-me');
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        model: 'resolve-me',
        modelGroup: { id: group.id, name: group.name },
        matchedBy: 'resolve-me',
      });
    });

    it('answers modelGroup and matchedBy null for a model in no group', async () => {
      const res = await call(
        t,
        'GET',
        `/admin/models/resolve?model=${encodeURIComponent('nobody/owns this')}`,
      );
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ model: 'nobody/owns this', modelGroup: null, matchedBy: null });
    });

    it('refuses a missing or invalid model with 400 naming model', async () => {
      expect(
        fields(expectProblem(await call(t, 'GET', '/admin/models/resolve'), 400, 'validation_failed')),
      ).toEqual(['model']);
      const ctl = await call(t, 'GET', '/admin/models/resolve?model=a%07b');
      expect(fields(expectProblem(ctl, 400, 'validation_failed'))).toEqual(['model']);
    });
  });

  describe('model patterns (SPEC §9.4)', () => {
    const resolve = async (model: string) => {
      const res = await call(t, 'GET', `/admin/models/resolve?model=${encodeURIComponent(model)}`);
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as {
        model: string;
        modelGroup: { id: number; name: string } | null;
        matchedBy: string | null;
      };
    };

    it('stores a pattern and resolves a model named nowhere by it, the prefix alone included', async () => {
      const family = await create({ name: unique('pat-family'), models: ['patfam-*', 'patfam-pinned'] });
      expect(family.models).toEqual(['patfam-*', 'patfam-pinned']);
      const ref = { id: family.id, name: family.name };
      expect(await resolve('patfam-2026-01')).toEqual({
        model: 'patfam-2026-01',
        modelGroup: ref,
        matchedBy: 'patfam-*',
      });
      expect(await resolve('patfam-')).toMatchObject({ modelGroup: ref, matchedBy: 'patfam-*' });
      expect(await resolve('patfam-pinned')).toMatchObject({ modelGroup: ref, matchedBy: 'patfam-pinned' });
      expect(await resolve('patfam')).toEqual({ model: 'patfam', modelGroup: null, matchedBy: null });
    });

    it('lets an exact id in one group beat a pattern of another, and the longest pattern win', async () => {
      const broad = await create({ name: unique('pat-broad'), models: ['patlong-*'] });
      const narrow = await create({ name: unique('pat-narrow'), models: ['patlong-opus-*'] });
      const pinned = await create({ name: unique('pat-pinned'), models: ['patlong-opus-4-1'] });
      expect(await resolve('patlong-opus-4-1')).toMatchObject({
        modelGroup: { id: pinned.id },
        matchedBy: 'patlong-opus-4-1',
      });
      expect(await resolve('patlong-opus-4-5')).toMatchObject({
        modelGroup: { id: narrow.id },
        matchedBy: 'patlong-opus-*',
      });
      expect(await resolve('patlong-haiku')).toMatchObject({
        modelGroup: { id: broad.id },
        matchedBy: 'patlong-*',
      });
    });

    it('stops resolving by a pattern once it is removed', async () => {
      const group = await create({ name: unique('pat-rm'), models: ['patrm-*'] });
      const res = await call(
        t,
        'DELETE',
        `/admin/model-groups/${group.id}/models?model=${encodeURIComponent('patrm-*')}`,
      );
      expect(res.statusCode).toBe(200);
      expect(res.json().models).toEqual([]);
      expect(await resolve('patrm-1')).toMatchObject({ modelGroup: null, matchedBy: null });
    });

    it('accepts a bare * as a catch-all that ids and longer patterns beat', async () => {
      const named = await create({ name: unique('pat-named'), models: ['patall-x'] });
      const all = await create({ name: unique('pat-all'), models: ['*'] });
      try {
        expect(await resolve('patall-never-named')).toMatchObject({
          modelGroup: { id: all.id },
          matchedBy: '*',
        });
        expect(await resolve('patall-x')).toMatchObject({
          modelGroup: { id: named.id },
          matchedBy: 'patall-x',
        });
      } finally {
        // Every later test expects unnamed models to resolve to nothing.
        expect((await call(t, 'DELETE', `/admin/model-groups/${all.id}`)).statusCode).toBe(204);
      }
    });

    it.each([
      ['a * inside', ['ok-pat-1', 'claude-*-opus'], 'models.1'],
      ['a * at the start', ['*-opus'], 'models.0'],
      ['two * at the end', ['claude-opus-**'], 'models.0'],
      ['two bare *', ['**'], 'models.0'],
    ])('refuses %s with 400 naming the entry, on create and on add', async (_what, models, field) => {
      const name = unique('pat-bad');
      const created = await call(t, 'POST', '/admin/model-groups', { name, models });
      const body = expectProblem(created, 400, 'validation_failed');
      expect(fields(body)).toEqual([field]);
      expect(body.errors[0].message).toContain('*');
      const group = await create({ name });
      const added = await call(t, 'POST', `/admin/model-groups/${group.id}/models`, { models });
      expect(fields(expectProblem(added, 400, 'validation_failed'))).toEqual([field]);
      expect((await call(t, 'GET', `/admin/model-groups/${group.id}`)).json().models).toEqual([]);
    });

    it('refuses the same pattern in a second group with 409 naming its owner, adding nothing', async () => {
      const owner = await create({ name: unique('pat-owner'), models: ['patdup-*'] });
      const other = await create({ name: unique('pat-other'), models: ['patdup-mine'] });
      const added = await call(t, 'POST', `/admin/model-groups/${other.id}/models`, {
        models: ['patdup-fresh-*', 'patdup-*'],
      });
      expect(expectProblem(added, 409, 'model_conflict')).toMatchObject({
        model: 'patdup-*',
        modelGroupId: owner.id,
        modelGroupName: owner.name,
      });
      expect((await call(t, 'GET', `/admin/model-groups/${other.id}`)).json().models).toEqual([
        'patdup-mine',
      ]);
      const created = await call(t, 'POST', '/admin/model-groups', {
        name: unique('pat-new'),
        models: ['patdup-*'],
      });
      expect(expectProblem(created, 409, 'model_conflict')).toMatchObject({
        model: 'patdup-*',
        modelGroupId: owner.id,
      });
      expect(await resolve('patdup-1')).toMatchObject({
        modelGroup: { id: owner.id },
        matchedBy: 'patdup-*',
      });
    });

    it('lets exactly one of two groups racing for the same pattern have it', async () => {
      for (let round = 0; round < 5; round++) {
        const pattern = `${unique('patrace')}-*`;
        const a = await create({ name: unique('race-a') });
        const b = await create({ name: unique('race-b') });
        const answers = await Promise.all(
          [a, b].map((g) => call(t, 'POST', `/admin/model-groups/${g.id}/models`, { models: [pattern] })),
        );
        expect(answers.map((r) => r.statusCode).sort()).toEqual([200, 409]);
        const winner = answers[0]!.statusCode === 200 ? a : b;
        const loser = answers.find((r) => r.statusCode === 409)!;
        expect(expectProblem(loser, 409, 'model_conflict')).toMatchObject({
          model: pattern,
          modelGroupId: winner.id,
          modelGroupName: winner.name,
        });
        expect(await resolve(pattern.slice(0, -1) + 'x')).toMatchObject({ modelGroup: { id: winner.id } });
      }
    });
  });

  describe('update', () => {
    it('renames and describes; null clears the description', async () => {
      const group = await create({ name: unique('patch'), description: 'old' });
      const newName = unique('patched');
      const renamed = await call(t, 'PATCH', `/admin/model-groups/${group.id}`, { name: newName });
      expect(renamed.statusCode).toBe(200);
      expect(renamed.json()).toMatchObject({ id: group.id, name: newName, description: 'old' });

      const cleared = await call(t, 'PATCH', `/admin/model-groups/${group.id}`, { description: null });
      expect(cleared.json()).toMatchObject({ name: newName, description: null });
      expect(Date.parse(cleared.json().updatedAt)).toBeGreaterThanOrEqual(
        Date.parse(renamed.json().createdAt),
      );
    });

    it('refuses an empty patch with 400', async () => {
      const group = await create({ name: unique('patch-empty') });
      expectProblem(await call(t, 'PATCH', `/admin/model-groups/${group.id}`, {}), 400, 'validation_failed');
    });
  });

  describe('adding and removing models', () => {
    it('adds models; models already in this group and duplicates are a no-op', async () => {
      const group = await create({ name: unique('add'), models: ['add-a'] });
      const res = await call(t, 'POST', `/admin/model-groups/${group.id}/models`, {
        models: ['add-c', 'add-a', 'add-b', 'add-c'],
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ id: group.id, models: ['add-a', 'add-b', 'add-c'] });

      const again = await call(t, 'POST', `/admin/model-groups/${group.id}/models`, { models: ['add-a'] });
      expect(again.statusCode).toBe(200);
      expect(again.json().models).toEqual(['add-a', 'add-b', 'add-c']);
    });

    it('removes one model', async () => {
      const group = await create({ name: unique('rm'), models: ['rm-a', 'rm-b'] });
      const res = await call(t, 'DELETE', `/admin/model-groups/${group.id}/models?model=rm-a`);
      expect(res.statusCode).toBe(200);
      expect(res.json().models).toEqual(['rm-b']);
      const resolved = await call(t, 'GET', '/admin/models/resolve?model=rm-a');
      expect(resolved.json().modelGroup).toBeNull();
    });

    it('answers 404 when the model is not in this group, leaving its owner alone', async () => {
      const owner = await create({ name: unique('rm-owner'), models: ['rm-owned'] });
      const other = await create({ name: unique('rm-other') });
      const res = await call(t, 'DELETE', `/admin/model-groups/${other.id}/models?model=rm-owned`);
      expect(expectProblem(res, 404, 'not_found').detail).toContain('rm-owned');
      expectProblem(
        await call(t, 'DELETE', `/admin/model-groups/${other.id}/models?model=never-seen`),
        404,
        'not_found',
      );
      expect((await call(t, 'GET', `/admin/model-groups/${owner.id}`)).json().models).toEqual(['rm-owned']);
    });

    it('refuses a removal without model with 400 naming model', async () => {
      const group = await create({ name: unique('rm-q') });
      const res = await call(t, 'DELETE', `/admin/model-groups/${group.id}/models`);
      expect(fields(expectProblem(res, 400, 'validation_failed'))).toEqual(['model']);
    });
  });

  describe('model conflicts', () => {
    it('refuses adding a model of another group with 409 naming it, and adds nothing', async () => {
      const owner = await create({ name: unique('owner'), models: ['taken'] });
      const group = await create({ name: unique('taker'), models: ['mine'] });
      const res = await call(t, 'POST', `/admin/model-groups/${group.id}/models`, {
        models: ['fresh-1', 'taken', 'fresh-2'],
      });
      const body = expectProblem(res, 409, 'model_conflict');
      expect(body).toMatchObject({ model: 'taken', modelGroupId: owner.id, modelGroupName: owner.name });

      expect((await call(t, 'GET', `/admin/model-groups/${group.id}`)).json().models).toEqual(['mine']);
      expect((await call(t, 'GET', '/admin/models/resolve?model=fresh-1')).json().modelGroup).toBeNull();
      expect((await call(t, 'GET', `/admin/model-groups/${owner.id}`)).json().models).toEqual(['taken']);
    });

    it('refuses creating a group with a model of another group and leaves no group behind', async () => {
      const owner = await create({ name: unique('c-owner'), models: ['c-taken'] });
      const name = unique('c-new');
      const res = await call(t, 'POST', '/admin/model-groups', { name, models: ['c-fresh', 'c-taken'] });
      expect(expectProblem(res, 409, 'model_conflict')).toMatchObject({
        model: 'c-taken',
        modelGroupId: owner.id,
        modelGroupName: owner.name,
      });
      const list = (await call(t, 'GET', '/admin/model-groups')).json().items as { name: string }[];
      expect(list.map((g) => g.name)).not.toContain(name);
      expect((await call(t, 'GET', '/admin/models/resolve?model=c-fresh')).json().modelGroup).toBeNull();
      // The name is free: the refused create really left nothing.
      await create({ name, models: ['c-fresh'] });
    });
  });

  describe('names', () => {
    it('refuses a duplicate name with 409 name_conflict, on create and on rename', async () => {
      const name = unique('dup');
      await create({ name });
      expectProblem(await call(t, 'POST', '/admin/model-groups', { name }), 409, 'name_conflict');
      expectProblem(
        await call(t, 'POST', '/admin/model-groups', { name: ` ${name}  ` }),
        409,
        'name_conflict',
      );
      const other = await create({ name: unique('dup-other') });
      expectProblem(
        await call(t, 'PATCH', `/admin/model-groups/${other.id}`, { name }),
        409,
        'name_conflict',
      );
    });

    it('keeps a name-conflicted create from adding its models', async () => {
      const name = unique('dup-models');
      await create({ name });
      await call(t, 'POST', '/admin/model-groups', { name, models: ['dup-model'] });
      expect((await call(t, 'GET', '/admin/models/resolve?model=dup-model')).json().modelGroup).toBeNull();
    });
  });

  describe('validation', () => {
    it.each([
      ['an empty name', { name: '' }, 'name'],
      ['a blank name', { name: '   ' }, 'name'],
      ['a name over 100 characters', { name: 'n'.repeat(101) }, 'name'],
      [
        'a description over 1000 characters',
        { name: 'ok-desc', description: 'd'.repeat(1001) },
        'description',
      ],
      ['an unknown field', { name: 'ok-unknown', colour: 'red' }, 'colour'],
      ['a model with a control character', { name: 'ok-ctl', models: ['ok', 'bad\u0000model'] }, 'models.1'],
      ['a model with a zero-width joiner', { name: 'ok-zwj', models: ['a\u200db'] }, 'models.0'],
      ['an empty model', { name: 'ok-empty', models: [''] }, 'models.0'],
      ['a model over 256 characters', { name: 'ok-long', models: ['m'.repeat(257)] }, 'models.0'],
      ['models that are not a list', { name: 'ok-list', models: 'gpt' }, 'models'],
    ])('refuses %s with 400 naming the field', async (_what, body, field) => {
      const res = await call(t, 'POST', '/admin/model-groups', body);
      expect(fields(expectProblem(res, 400, 'validation_failed'))).toEqual([field]);
    });

    it.each(['opus\u0007', 'op\nus', 'a\u0000b', 'a\u200db', 'tab\tname'])(
      'refuses the name %j with a control or format character, on create and rename',
      async (name) => {
        const created = await call(t, 'POST', '/admin/model-groups', { name });
        expect(expectProblem(created, 400, 'validation_failed').errors).toEqual([
          { field: 'name', message: 'must contain only printable characters' },
        ]);
        const group = await create({ name: unique('ctl') });
        const renamed = await call(t, 'PATCH', `/admin/model-groups/${group.id}`, { name });
        expect(fields(expectProblem(renamed, 400, 'validation_failed'))).toEqual(['name']);
        expect((await call(t, 'GET', `/admin/model-groups/${group.id}`)).json().name).toBe(group.name);
      },
    );

    it('accepts a name of exactly 100 characters', async () => {
      await create({ name: `${'x'.repeat(96)}${String(++seq).padStart(4, '0')}` });
    });

    it('refuses an empty or non-list models on add, and unknown fields, naming the field', async () => {
      const group = await create({ name: unique('add-v') });
      const url = `/admin/model-groups/${group.id}/models`;
      expect(
        fields(expectProblem(await call(t, 'POST', url, { models: [] }), 400, 'validation_failed')),
      ).toEqual(['models']);
      expect(
        fields(
          expectProblem(await call(t, 'POST', url, { models: ['a'], extra: 1 }), 400, 'validation_failed'),
        ),
      ).toEqual(['extra']);
    });

    it('refuses malformed JSON with 400 malformed_json', async () => {
      const res = await t.inject({
        method: 'POST',
        url: '/admin/model-groups',
        headers: { ...ADMIN, 'content-type': 'application/json' },
        payload: '{"name":',
      });
      expectProblem(res, 400, 'malformed_json');
    });
  });

  describe('unknown and malformed ids', () => {
    const missing = 2_000_000_000;

    it.each([
      ['GET', `/admin/model-groups/${missing}`, undefined],
      ['PATCH', `/admin/model-groups/${missing}`, { name: 'whatever-404' }],
      ['DELETE', `/admin/model-groups/${missing}`, undefined],
      ['POST', `/admin/model-groups/${missing}/models`, { models: ['m-404'] }],
      ['DELETE', `/admin/model-groups/${missing}/models?model=m-404`, undefined],
    ] as const)('%s %s answers 404 not_found', async (method, url, body) => {
      const res = await call(t, method, url, body);
      expect(expectProblem(res, 404, 'not_found').detail).toContain(String(missing));
    });

    it.each(['abc', '0', '-1', '1.5', '99999999999'])('answers 400 naming id for id %s', async (id) => {
      const res = await call(t, 'GET', `/admin/model-groups/${id}`);
      expect(fields(expectProblem(res, 400, 'validation_failed'))).toEqual(['id']);
    });

    it('adds nothing when the group is unknown', async () => {
      await call(t, 'POST', `/admin/model-groups/${missing}/models`, { models: ['orphan-model'] });
      expect((await call(t, 'GET', '/admin/models/resolve?model=orphan-model')).json().modelGroup).toBeNull();
    });
  });

  describe('delete', () => {
    it('answers 204, then 404; its models are free again', async () => {
      const group = await create({ name: unique('del'), models: ['del-m'] });
      const res = await call(t, 'DELETE', `/admin/model-groups/${group.id}`);
      expect(res.statusCode).toBe(204);
      expect(res.body).toBe('');
      expectProblem(await call(t, 'GET', `/admin/model-groups/${group.id}`), 404, 'not_found');
      expectProblem(await call(t, 'DELETE', `/admin/model-groups/${group.id}`), 404, 'not_found');
      expect((await call(t, 'GET', '/admin/models/resolve?model=del-m')).json().modelGroup).toBeNull();
      await create({ name: unique('del-reuse'), models: ['del-m'] });
    });

    it('takes its limits and boosts with it, and leaves other groups’ rows alone', async () => {
      const doomed = await create({ name: unique('cascade') });
      const kept = await create({ name: unique('kept') });
      const db = t.database.db;
      const limitRow = (modelGroupId: number) => ({
        subjectType: 'user',
        subjectId: 'u-cascade',
        modelGroupId,
        metric: 'requests',
        window: 'daily',
        slot: 'daily',
        reset: 'calendar',
        cap: 5,
      });
      const boostRow = (modelGroupId: number) => ({
        subjectType: 'user',
        subjectId: 'u-cascade',
        modelGroupId,
        metric: 'requests',
        window: 'daily',
        slot: 'daily',
        amount: 2,
        startsAt: new Date('2025-01-01T00:00:00Z'),
        expiresAt: new Date('2025-01-02T00:00:00Z'),
      });
      await db.insert(limits).values([limitRow(doomed.id), limitRow(kept.id)]);
      await db.insert(boosts).values([boostRow(doomed.id), boostRow(kept.id)]);

      expect((await call(t, 'DELETE', `/admin/model-groups/${doomed.id}`)).statusCode).toBe(204);

      expect(await db.select().from(limits).where(eq(limits.modelGroupId, doomed.id))).toEqual([]);
      expect(await db.select().from(boosts).where(eq(boosts.modelGroupId, doomed.id))).toEqual([]);
      expect(await db.select().from(limits).where(eq(limits.modelGroupId, kept.id))).toHaveLength(1);
      expect(await db.select().from(boosts).where(eq(boosts.modelGroupId, kept.id))).toHaveLength(1);
    });
  });

  describe('security', () => {
    it.each([
      ['GET', '/admin/model-groups'],
      ['POST', '/admin/model-groups'],
      ['GET', '/admin/models/resolve?model=x'],
      ['DELETE', '/admin/model-groups/1'],
    ] as const)('%s %s answers 401 without a token and 403 with a service token', async (method, url) => {
      const payload = method === 'POST' ? { name: 'sec' } : undefined;
      expectProblem(await t.inject({ method, url, ...(payload ? { payload } : {}) }), 401, 'unauthorized');
      expectProblem(
        await t.inject({ method, url, headers: SERVICE, ...(payload ? { payload } : {}) }),
        403,
        'forbidden',
      );
    });

    it('writes nothing for a refused caller', async () => {
      const name = unique('sec-none');
      await t.inject({ method: 'POST', url: '/admin/model-groups', headers: SERVICE, payload: { name } });
      const list = (await call(t, 'GET', '/admin/model-groups')).json().items as { name: string }[];
      expect(list.map((g) => g.name)).not.toContain(name);
    });
  });
});

describe('admin groups smoke run on embedded PGlite', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('creates, lists, conflicts, resolves, counts members and audits', async () => {
    const created = await call(t, 'POST', '/admin/model-groups', {
      name: 'opus',
      models: ['o-2', 'o-1', 'o-*'],
    });
    expect(created.statusCode).toBe(201);
    const group = created.json();
    expect(group.models).toEqual(['o-*', 'o-1', 'o-2']);

    const conflict = await call(t, 'POST', '/admin/model-groups', { name: 'sonnet', models: ['s-1', 'o-1'] });
    expect(expectProblem(conflict, 409, 'model_conflict')).toMatchObject({
      model: 'o-1',
      modelGroupId: group.id,
    });
    const list = await call(t, 'GET', '/admin/model-groups');
    expect(list.json().items.map((g: { name: string }) => g.name)).toEqual(['opus']);

    expect((await call(t, 'GET', '/admin/models/resolve?model=o-2')).json()).toEqual({
      model: 'o-2',
      modelGroup: { id: group.id, name: 'opus' },
      matchedBy: 'o-2',
    });
    expect((await call(t, 'GET', '/admin/models/resolve?model=o-3')).json()).toMatchObject({
      modelGroup: { id: group.id },
      matchedBy: 'o-*',
    });

    const ug = (await call(t, 'POST', '/admin/user-groups', { name: 'pro' })).json();
    const members = await call(t, 'POST', `/admin/user-groups/${ug.id}/members`, { userIds: ['u-2', 'u-1'] });
    expect(members.json()).toMatchObject({ members: ['u-1', 'u-2'], memberCount: 2 });
    expect((await call(t, 'GET', '/admin/user-groups')).json().items).toMatchObject([
      { name: 'pro', memberCount: 2 },
    ]);

    expect((await call(t, 'DELETE', `/admin/model-groups/${group.id}`)).statusCode).toBe(204);
    const audit = (await call(t, 'GET', '/admin/audit')).json().items as { action: string; actor: string }[];
    expect(audit.map((a) => a.action)).toEqual([
      'model_group.delete',
      'user_group.add_members',
      'user_group.create',
      'model_group.create',
    ]);
    expect(audit.every((a) => a.actor === 'ops')).toBe(true);
  });
});
