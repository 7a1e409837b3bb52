import { eq } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminWrite, type AdminContext } from '../../src/admin/admin-write.js';
import { ManualClock } from '../../src/clock.js';
import { addModels, insertModelGroup } from '../../src/db/repositories/model-groups.js';
import { auditLog, configVersion, modelGroupMembers, modelGroups } from '../../src/db/schema.js';
import { readConfigVersion } from '../../src/snapshot/load.js';
import { ConfigSync } from '../../src/snapshot/config-sync.js';
import { ADMIN, SERVICE, startTestApp, type TestApp } from '../support/app.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

interface AuditItem {
  id: number;
  actor: string;
  action: string;
  entityType: string;
  entityId: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  at: string;
}

function expectProblem(res: LightMyRequestResponse, status: number, code: string) {
  expect(res.statusCode).toBe(status);
  const body = res.json();
  expect(body).toMatchObject({ status, code });
  return body;
}

describeWithPostgres('admin audit (PostgreSQL)', () => {
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
  const latest = async (limit = 1): Promise<AuditItem[]> => {
    const res = await call('GET', `/admin/audit?limit=${limit}`);
    expect(res.statusCode).toBe(200);
    return res.json().items;
  };

  beforeAll(async () => {
    t = await startTestApp({ databaseUrl: getUrl() });
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('what a write records', () => {
    it('records a create with the token name as actor, before null and after the group', async () => {
      const name = unique('aud');
      const created = (await call('POST', '/admin/model-groups', { name, models: ['aud-m'] })).json();
      const [entry] = await latest();
      expect(entry).toMatchObject({
        actor: 'ops',
        action: 'model_group.create',
        entityType: 'model_group',
        entityId: String(created.id),
        before: null,
        after: { id: created.id, name, models: ['aud-m'], description: null },
      });
      expect(new Date(entry!.at).toISOString()).toBe(entry!.at);
      expect(JSON.stringify(entry)).not.toContain('admin-token');
    });

    it('records an update with before and after', async () => {
      const group = (await call('POST', '/admin/user-groups', { name: unique('aud-u') })).json();
      const renamed = unique('aud-u-new');
      await call('PATCH', `/admin/user-groups/${group.id}`, { name: renamed });
      const [entry] = await latest();
      expect(entry).toMatchObject({
        action: 'user_group.update',
        entityType: 'user_group',
        entityId: String(group.id),
        before: { name: group.name },
        after: { name: renamed },
      });
    });

    it.each([
      ['model_group.add_models', 'model_group.remove_model', 'model_group.delete'],
      ['user_group.add_members', 'user_group.remove_member', 'user_group.delete'],
    ])('records %s, %s and %s', async (add, remove, del) => {
      const model = add.startsWith('model');
      const base = model ? '/admin/model-groups' : '/admin/user-groups';
      const group = (await call('POST', base, { name: unique('aud-x') })).json();
      await call(
        'POST',
        `${base}/${group.id}/${model ? 'models' : 'members'}`,
        model ? { models: ['x1'] } : { userIds: ['x1'] },
      );
      await call('DELETE', model ? `${base}/${group.id}/models?model=x1` : `${base}/${group.id}/members/x1`);
      await call('DELETE', `${base}/${group.id}`);
      const entries = await latest(3);
      expect(entries.map((e) => e.action)).toEqual([del, remove, add]);
      const key = model ? 'models' : 'members';
      expect(entries[2]).toMatchObject({ before: { [key]: [] }, after: { [key]: ['x1'] } });
      expect(entries[1]).toMatchObject({ before: { [key]: ['x1'] }, after: { [key]: [] } });
      expect(entries[0]).toMatchObject({ before: { id: group.id }, after: null });
    });

    it('records nothing and bumps no version for a refused write', async () => {
      const name = unique('aud-dup');
      await call('POST', '/admin/model-groups', { name });
      const [before] = await latest();
      const version = await readConfigVersion(t.database.db);
      expect((await call('POST', '/admin/model-groups', { name })).statusCode).toBe(409);
      expect((await call('GET', '/admin/model-groups/2000000000')).statusCode).toBe(404);
      expect(await latest()).toEqual([before]);
      expect(await readConfigVersion(t.database.db)).toBe(version);
    });

    it('bumps the config version once per write', async () => {
      const version = await readConfigVersion(t.database.db);
      await call('POST', '/admin/user-groups', { name: unique('aud-v') });
      expect(await readConfigVersion(t.database.db)).toBe(version + 1);
    });
  });

  describe('a failing audit insert', () => {
    it('rolls back the change it records', async () => {
      const db = t.database.db;
      const sync = new ConfigSync({
        db,
        clock: new ManualClock(),
        logger: pino({ level: 'silent' }),
        pollSeconds: 60,
        redis: null,
        channel: 'unused',
      });
      const ctx: AdminContext = { db, sync, actor: 'ops' };
      const name = unique('aud-rollback');
      const version = await readConfigVersion(db);
      const auditRows = await db.$count(auditLog);

      const write = adminWrite(ctx, async (tx) => {
        const id = await insertModelGroup(tx, { name, description: null });
        await addModels(tx, id, ['rollback-model']);
        // entity_type is NOT NULL: the audit insert fails after the change ran.
        return {
          result: id,
          audit: {
            action: 'x',
            entityType: null as unknown as string,
            entityId: id,
            before: null,
            after: null,
          },
        };
      });

      const err = (await write.then(
        () => null,
        (e: unknown) => e,
      )) as { code?: string; cause?: { code?: string } } | null;
      expect(err?.cause?.code ?? err?.code).toBe('23502'); // not_null_violation on entity_type
      expect(await db.select().from(modelGroups).where(eq(modelGroups.name, name))).toEqual([]);
      expect(
        await db.select().from(modelGroupMembers).where(eq(modelGroupMembers.model, 'rollback-model')),
      ).toEqual([]);
      expect(await db.$count(auditLog)).toBe(auditRows);
      const [row] = await db.select().from(configVersion);
      expect(row?.version).toBe(version);
    });
  });

  describe('reading', () => {
    it('answers newest first, honouring limit', async () => {
      for (let i = 0; i < 3; i++) await call('POST', '/admin/user-groups', { name: unique('aud-order') });
      const items = await latest(3);
      expect(items).toHaveLength(3);
      expect(items.map((e) => e.id)).toEqual([...items.map((e) => e.id)].sort((a, b) => b - a));
      expect(items.map((e) => e.after?.name)).toEqual([
        `aud-order-${seq}`,
        `aud-order-${seq - 1}`,
        `aud-order-${seq - 2}`,
      ]);
    });

    it('answers 100 entries by default and at most 1000', async () => {
      const rows = Array.from({ length: 1005 }, (_, i) => ({
        actor: 'seed',
        action: 'seed.row',
        entityType: 'seed',
        entityId: String(i),
      }));
      await t.database.db.insert(auditLog).values(rows);
      const byDefault = await call('GET', '/admin/audit');
      expect(byDefault.json().items).toHaveLength(100);
      expect(await latest(1000)).toHaveLength(1000);
    });

    it.each(['0', '1001', 'abc', '-5', '2.5'])('refuses limit=%s with 400 naming limit', async (limit) => {
      const res = await call('GET', `/admin/audit?limit=${limit}`);
      expect(
        expectProblem(res, 400, 'validation_failed').errors.map((e: { field: string }) => e.field),
      ).toEqual(['limit']);
    });

    it('answers 401 without a token and 403 with a service token', async () => {
      expectProblem(await t.inject({ method: 'GET', url: '/admin/audit' }), 401, 'unauthorized');
      expectProblem(
        await t.inject({ method: 'GET', url: '/admin/audit', headers: SERVICE }),
        403,
        'forbidden',
      );
    });
  });
});
