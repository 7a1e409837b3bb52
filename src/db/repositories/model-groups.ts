import { and, asc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { AppError, notFound } from '../../domain/errors.js';
import type { Executor } from '../client.js';
import { lockGroupRow } from './group-lock.js';
import { foreignKeyViolation, uniqueViolation } from '../errors.js';
import { modelGroupMembers, modelGroups } from '../schema.js';

export interface ModelGroup {
  id: number;
  name: string;
  description: string | null;
  /** Sorted by code point (`collate "C"`), whatever the database's locale. */
  models: string[];
  createdAt: Date;
  updatedAt: Date;
}

export interface ModelOwner {
  model: string;
  modelGroupId: number;
  modelGroupName: string;
}

/** Lists stay one query: the members are aggregated per group, never fetched per group. */
const modelsOf = sql<string[]>`coalesce(
  json_agg(${modelGroupMembers.model} order by ${modelGroupMembers.model} collate "C")
    filter (where ${modelGroupMembers.model} is not null),
  '[]'::json)`;

function selectGroups(db: Executor, where?: SQL) {
  return db
    .select({
      id: modelGroups.id,
      name: modelGroups.name,
      description: modelGroups.description,
      models: modelsOf,
      createdAt: modelGroups.createdAt,
      updatedAt: modelGroups.updatedAt,
    })
    .from(modelGroups)
    .leftJoin(modelGroupMembers, eq(modelGroupMembers.modelGroupId, modelGroups.id))
    .where(where)
    .groupBy(modelGroups.id)
    .orderBy(asc(modelGroups.id));
}

export function listModelGroups(db: Executor): Promise<ModelGroup[]> {
  return selectGroups(db);
}

export async function findModelGroup(db: Executor, id: number): Promise<ModelGroup | null> {
  const [group] = await selectGroups(db, eq(modelGroups.id, id));
  return group ?? null;
}

/** Locks the group row for the caller's transaction (a concurrent delete waits); false if absent. */
export function lockModelGroup(db: Executor, id: number): Promise<boolean> {
  return lockGroupRow(db, modelGroups, id, 'no key update');
}

export async function insertModelGroup(
  db: Executor,
  values: { name: string; description: string | null },
): Promise<number> {
  const [row] = await translate(
    () => db.insert(modelGroups).values(values).returning({ id: modelGroups.id }),
    values,
  );
  return row!.id;
}

/** Returns false when the group does not exist. */
export async function updateModelGroup(
  db: Executor,
  id: number,
  patch: { name?: string; description?: string | null },
): Promise<boolean> {
  const rows = await translate(
    () =>
      db
        .update(modelGroups)
        .set({ ...patch, updatedAt: sql`now()` })
        .where(eq(modelGroups.id, id))
        .returning({ id: modelGroups.id }),
    patch,
  );
  return rows.length > 0;
}

/** Its members, limits, boosts and reset markers go with it (ON DELETE CASCADE). */
export async function deleteModelGroup(db: Executor, id: number): Promise<boolean> {
  const rows = await db.delete(modelGroups).where(eq(modelGroups.id, id)).returning({ id: modelGroups.id });
  return rows.length > 0;
}

/** The group owning each of `models` that is in one. */
export async function findModelOwners(
  db: Executor,
  models: readonly string[],
): Promise<Map<string, ModelOwner>> {
  if (models.length === 0) return new Map();
  const rows = await db
    .select({
      model: modelGroupMembers.model,
      modelGroupId: modelGroupMembers.modelGroupId,
      modelGroupName: modelGroups.name,
    })
    .from(modelGroupMembers)
    .innerJoin(modelGroups, eq(modelGroups.id, modelGroupMembers.modelGroupId))
    .where(inArray(modelGroupMembers.model, [...models]));
  return new Map(rows.map((r) => [r.model, r]));
}

export async function findModelOwner(db: Executor, model: string): Promise<ModelOwner | null> {
  return (await findModelOwners(db, [model])).get(model) ?? null;
}

/**
 * Adds `models` to the group; models already in it are left alone. Throws model_conflict
 * naming the first model (in the given order) that another group owns. Rows inserted
 * before the throw stay until the caller's transaction rolls back: call it in one.
 *
 * ON CONFLICT DO NOTHING waits for a concurrent uncommitted insert of the same model, so a
 * race ends as a conflict naming the winner rather than a unique violation. Inserting in
 * sorted order keeps two overlapping adds from deadlocking. Returns how many were added.
 */
export async function addModels(db: Executor, groupId: number, models: readonly string[]): Promise<number> {
  let pending = [...new Set(models)].sort();
  let added = 0;
  for (let attempt = 0; pending.length > 0; attempt++) {
    const inserted = await translate(
      () =>
        db
          .insert(modelGroupMembers)
          .values(pending.map((model) => ({ model, modelGroupId: groupId })))
          .onConflictDoNothing({ target: modelGroupMembers.model })
          .returning({ model: modelGroupMembers.model }),
      { groupId },
    );
    added += inserted.length;
    const done = new Set(inserted.map((r) => r.model));
    const skipped = pending.filter((m) => !done.has(m));
    if (skipped.length === 0) break;
    const owners = await findModelOwners(db, skipped);
    const foreign = models
      .map((m) => owners.get(m))
      .find((o) => o !== undefined && o.modelGroupId !== groupId);
    if (foreign) throw modelConflict(foreign);
    // A model whose conflicting row vanished between the two statements: insert it again.
    pending = skipped.filter((m) => !owners.has(m));
    if (pending.length > 0 && attempt >= 2) {
      throw new AppError('model_conflict', `model ${pending[0]} is being moved concurrently; retry`, {
        model: pending[0],
        modelGroupId: null,
        modelGroupName: null,
      });
    }
  }
  return added;
}

/** Returns false when the model is not in this group. */
export async function removeModel(db: Executor, groupId: number, model: string): Promise<boolean> {
  const rows = await db
    .delete(modelGroupMembers)
    .where(and(eq(modelGroupMembers.modelGroupId, groupId), eq(modelGroupMembers.model, model)))
    .returning({ model: modelGroupMembers.model });
  return rows.length > 0;
}

export function modelConflict(owner: ModelOwner): AppError {
  return new AppError(
    'model_conflict',
    `model ${owner.model} already belongs to model group ${owner.modelGroupId} (${owner.modelGroupName})`,
    { model: owner.model, modelGroupId: owner.modelGroupId, modelGroupName: owner.modelGroupName },
  );
}

/** Constraint violations as domain errors; `groupId` is the group a member row references. */
async function translate<T>(
  run: () => Promise<T>,
  ctx: { name?: string; groupId?: number } = {},
): Promise<T> {
  try {
    return await run();
  } catch (err) {
    switch (uniqueViolation(err)) {
      case 'model_groups_name_unique':
        throw new AppError('name_conflict', `a model group named ${JSON.stringify(ctx.name)} already exists`);
      case 'model_group_members_pkey':
        // Not reached through addModels (ON CONFLICT); kept so no path turns a race into a 500.
        throw new AppError(
          'model_conflict',
          'a model of the request belongs to another group; retry to see which',
        );
    }
    if (ctx.groupId !== undefined && foreignKeyViolation(err)) throw notFound('model group', ctx.groupId);
    throw err;
  }
}
