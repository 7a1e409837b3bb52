import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type Database, type Db } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { listAudit } from '../../src/db/repositories/audit.js';
import * as models from '../../src/db/repositories/model-groups.js';
import * as users from '../../src/db/repositories/user-groups.js';
import * as schema from '../../src/db/schema.js';
import { AppError } from '../../src/domain/errors.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';

/** Resolves to the AppError a call threw (fails the test if it resolved or threw anything else). */
async function appError(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describeWithPostgres('group and audit repositories (PostgreSQL)', () => {
  const getUrl = useTestDatabase();
  let database: Database;
  let db: Db;
  let pool: pg.Pool;
  let counted: Db;
  let queries = 0;
  let seq = 0;
  const unique = (prefix: string) => `${prefix}-${++seq}`;

  beforeAll(async () => {
    database = openPostgres(getUrl(), 4);
    await applyMigrations(database);
    db = database.db;
    pool = new pg.Pool({ connectionString: getUrl(), max: 2 });
    counted = drizzle(pool, { schema, logger: { logQuery: () => void queries++ } }) as unknown as Db;
  });
  afterAll(async () => {
    await pool?.end();
    await database?.close();
  });

  async function queriesOf<T>(run: () => Promise<T>): Promise<{ result: T; queries: number }> {
    queries = 0;
    const result = await run();
    return { result, queries };
  }

  const modelGroup = async (memberModels: string[] = []) => {
    const id = await models.insertModelGroup(db, { name: unique('mg'), description: null });
    await db.transaction((tx) => models.addModels(tx, id, memberModels));
    return id;
  };

  describe('model groups', () => {
    it('lists every group with its models in one query, sorted by code point', async () => {
      const a = await modelGroup(['é-model', 'a-model', 'Z-model', 'B-model']);
      const empty = await modelGroup();
      for (let i = 0; i < 5; i++) await modelGroup([unique('filler')]);
      const { result, queries: n } = await queriesOf(() => models.listModelGroups(counted));
      expect(n).toBe(1);
      expect(result.find((g) => g.id === a)?.models).toEqual(['B-model', 'Z-model', 'a-model', 'é-model']);
      expect(result.find((g) => g.id === empty)?.models).toEqual([]);
      expect(result.find((g) => g.id === a)?.createdAt).toBeInstanceOf(Date);
    });

    it('finds one group or null', async () => {
      const id = await modelGroup(['find-me']);
      expect(await models.findModelGroup(db, id)).toMatchObject({
        id,
        models: ['find-me'],
        description: null,
      });
      expect(await models.findModelGroup(db, 2_000_000_000)).toBeNull();
    });

    it('translates a duplicate name into name_conflict, on insert and update', async () => {
      const name = unique('dup');
      const id = await models.insertModelGroup(db, { name, description: null });
      expect((await appError(models.insertModelGroup(db, { name, description: 'x' }))).code).toBe(
        'name_conflict',
      );
      const other = await modelGroup();
      expect((await appError(models.updateModelGroup(db, other, { name }))).code).toBe('name_conflict');
      expect(await models.updateModelGroup(db, id, { description: 'kept' })).toBe(true);
      expect(await models.updateModelGroup(db, 2_000_000_000, { description: 'x' })).toBe(false);
    });

    it('adds models, counting only new ones; its own models and duplicates are a no-op', async () => {
      const id = await modelGroup(['own-1']);
      expect(await db.transaction((tx) => models.addModels(tx, id, ['own-2', 'own-1', 'own-2']))).toBe(1);
      expect(await db.transaction((tx) => models.addModels(tx, id, ['own-1']))).toBe(0);
      expect((await models.findModelGroup(db, id))?.models).toEqual(['own-1', 'own-2']);
    });

    it('throws model_conflict naming the first foreign model of the request, adding nothing', async () => {
      const owner = await modelGroup(['foreign-2', 'foreign-1']);
      const ownerName = (await models.findModelGroup(db, owner))?.name;
      const id = await modelGroup();
      const err = await appError(
        db.transaction((tx) => models.addModels(tx, id, ['free', 'foreign-2', 'foreign-1'])),
      );
      expect(err.code).toBe('model_conflict');
      expect(err.extra).toEqual({ model: 'foreign-2', modelGroupId: owner, modelGroupName: ownerName });
      expect((await models.findModelGroup(db, id))?.models).toEqual([]);
    });

    it('translates a vanished group into not_found', async () => {
      const err = await appError(db.transaction((tx) => models.addModels(tx, 2_000_000_000, ['fk-model'])));
      expect(err.code).toBe('not_found');
    });

    it('names the winner when a concurrent transaction takes the model first', async () => {
      const winner = await modelGroup();
      const loser = await modelGroup();
      const other = new pg.Client({ connectionString: getUrl() });
      await other.connect();
      try {
        await other.query('begin');
        await other.query('insert into model_group_members (model, model_group_id) values ($1, $2)', [
          'raced',
          winner,
        ]);
        // Blocks on the uncommitted row until the other transaction ends. Caught at once: its
        // refusal can arrive before the commit's own answer does.
        const losing = appError(db.transaction((tx) => models.addModels(tx, loser, ['raced', 'raced-free'])));
        await new Promise((resolve) => setTimeout(resolve, 150));
        await other.query('commit');
        const err = await losing;
        expect(err.code).toBe('model_conflict');
        expect(err.extra).toMatchObject({ model: 'raced', modelGroupId: winner });
        expect((await models.findModelGroup(db, loser))?.models).toEqual([]);
      } finally {
        await other.end();
      }
    });

    it('adds the model when the concurrent transaction that held it rolls back', async () => {
      const rival = await modelGroup();
      const id = await modelGroup();
      const other = new pg.Client({ connectionString: getUrl() });
      await other.connect();
      try {
        await other.query('begin');
        await other.query('insert into model_group_members (model, model_group_id) values ($1, $2)', [
          'released',
          rival,
        ]);
        const adding = db.transaction((tx) => models.addModels(tx, id, ['released']));
        await new Promise((resolve) => setTimeout(resolve, 150));
        await other.query('rollback');
        expect(await adding).toBe(1);
        expect((await models.findModelGroup(db, id))?.models).toEqual(['released']);
      } finally {
        await other.end();
      }
    });

    it('resolves owners, removes a model only from its own group, and deletes groups', async () => {
      const id = await modelGroup(['owned']);
      const other = await modelGroup();
      expect(await models.findModelOwner(db, 'owned')).toMatchObject({ model: 'owned', modelGroupId: id });
      expect(await models.findModelOwner(db, 'unowned')).toBeNull();
      expect(await models.removeModel(db, other, 'owned')).toBe(false);
      expect(await models.removeModel(db, id, 'owned')).toBe(true);
      expect(await models.findModelOwner(db, 'owned')).toBeNull();
      expect(await models.deleteModelGroup(db, id)).toBe(true);
      expect(await models.deleteModelGroup(db, id)).toBe(false);
    });
  });

  describe('user groups', () => {
    const userGroup = async (members: string[] = []) => {
      const id = await users.insertUserGroup(db, { name: unique('ug'), description: null });
      await users.addMembers(db, id, members);
      return id;
    };

    it('lists groups with member counts in one query', async () => {
      const three = await userGroup(['a', 'b', 'c']);
      const none = await userGroup();
      for (let i = 0; i < 5; i++) await userGroup(['x', 'y']);
      const { result, queries: n } = await queriesOf(() => users.listUserGroups(counted));
      expect(n).toBe(1);
      expect(result.find((g) => g.id === three)?.memberCount).toBe(3);
      expect(result.find((g) => g.id === none)?.memberCount).toBe(0);
    });

    it('reads one group with its members sorted, in one query', async () => {
      const id = await userGroup(['u-b', 'U-a', 'u-a']);
      const { result, queries: n } = await queriesOf(() => users.findUserGroup(counted, id));
      expect(n).toBe(1);
      expect(result).toMatchObject({ id, members: ['U-a', 'u-a', 'u-b'], memberCount: 3 });
      expect(await users.findUserGroup(db, 2_000_000_000)).toBeNull();
    });

    it('adds members idempotently, returning only the new ones', async () => {
      const id = await userGroup(['m-1']);
      expect(await users.addMembers(db, id, ['m-2', 'm-1', 'm-2'])).toEqual(['m-2']);
      expect(await users.addMembers(db, id, ['m-1', 'm-2'])).toEqual([]);
      expect(await users.addMembers(db, id, [])).toEqual([]);
      expect((await appError(users.addMembers(db, 2_000_000_000, ['m-1']))).code).toBe('not_found');
    });

    it('removes a member only when it is one', async () => {
      const id = await userGroup(['r-1']);
      expect(await users.removeMember(db, id, 'r-2')).toBe(false);
      expect(await users.removeMember(db, id, 'r-1')).toBe(true);
      expect(await users.removeMember(db, id, 'r-1')).toBe(false);
    });

    it('translates a duplicate name into name_conflict', async () => {
      const name = unique('ug-dup');
      await users.insertUserGroup(db, { name, description: null });
      expect((await appError(users.insertUserGroup(db, { name, description: null }))).code).toBe(
        'name_conflict',
      );
      const other = await userGroup();
      expect((await appError(users.updateUserGroup(db, other, { name }))).code).toBe('name_conflict');
    });
  });

  describe('audit', () => {
    it('lists newest first, limited', async () => {
      const [first] = await db
        .insert(schema.auditLog)
        .values({ actor: 'a', action: 't.one', entityType: 't', entityId: '1' })
        .returning();
      const [second] = await db
        .insert(schema.auditLog)
        .values({
          actor: 'a',
          action: 't.two',
          entityType: 't',
          entityId: null,
          before: { n: 1 },
          after: [1, 2],
        })
        .returning();
      const items = await listAudit(db, 2);
      expect(items.map((i) => i.id)).toEqual([second!.id, first!.id]);
      expect(items[0]).toMatchObject({ entityId: null, before: { n: 1 }, after: [1, 2] });
      expect(items[0]?.at).toBeInstanceOf(Date);
      expect(await listAudit(db, 1)).toHaveLength(1);
    });
  });
});
