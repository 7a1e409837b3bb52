import { and, asc, eq, sql, type SQL } from 'drizzle-orm';
import { AppError, notFound } from '../../domain/errors.js';
import type { Executor } from '../client.js';
import { lockGroupRow } from './group-lock.js';
import { foreignKeyViolation, uniqueViolation } from '../errors.js';
import { limits, userGroupMembers, userGroups } from '../schema.js';

export interface UserGroupSummary {
  id: number;
  name: string;
  description: string | null;
  memberCount: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface UserGroup extends UserGroupSummary {
  /** Sorted by code point (`collate "C"`), whatever the database's locale. */
  members: string[];
}

const columns = {
  id: userGroups.id,
  name: userGroups.name,
  description: userGroups.description,
  memberCount: sql<number>`count(${userGroupMembers.userId})::int`,
  createdAt: userGroups.createdAt,
  updatedAt: userGroups.updatedAt,
};

/** Counts and member lists are aggregated in the one query, never fetched per group. */
function selectGroups<T extends object>(db: Executor, extra: T, where?: SQL) {
  return db
    .select({ ...columns, ...extra })
    .from(userGroups)
    .leftJoin(userGroupMembers, eq(userGroupMembers.userGroupId, userGroups.id))
    .where(where)
    .groupBy(userGroups.id)
    .orderBy(asc(userGroups.id));
}

export function listUserGroups(db: Executor): Promise<UserGroupSummary[]> {
  return selectGroups(db, {});
}

export async function findUserGroup(db: Executor, id: number): Promise<UserGroup | null> {
  const members = sql<string[]>`coalesce(
    json_agg(${userGroupMembers.userId} order by ${userGroupMembers.userId} collate "C")
      filter (where ${userGroupMembers.userId} is not null),
    '[]'::json)`;
  const [group] = await selectGroups(db, { members }, eq(userGroups.id, id));
  return group ?? null;
}

/** Locks the group row for the caller's transaction (a concurrent delete waits); false if absent. */
export function lockUserGroup(db: Executor, id: number): Promise<boolean> {
  return lockGroupRow(db, userGroups, id, 'no key update');
}

export async function insertUserGroup(
  db: Executor,
  values: { name: string; description: string | null },
): Promise<number> {
  const [row] = await translate(
    () => db.insert(userGroups).values(values).returning({ id: userGroups.id }),
    values,
  );
  return row!.id;
}

/** Returns false when the group does not exist. */
export async function updateUserGroup(
  db: Executor,
  id: number,
  patch: { name?: string; description?: string | null },
): Promise<boolean> {
  const rows = await translate(
    () =>
      db
        .update(userGroups)
        .set({ ...patch, updatedAt: sql`now()` })
        .where(eq(userGroups.id, id))
        .returning({ id: userGroups.id }),
    patch,
  );
  return rows.length > 0;
}

/**
 * Its memberships go with it (ON DELETE CASCADE), and so do the limits naming it as subject:
 * `subject_id` is text with no foreign key, and a deleted group's limits could never apply
 * again (ids are not reused), as a model group's limits go with it by cascade.
 */
export async function deleteUserGroup(db: Executor, id: number): Promise<boolean> {
  await db.delete(limits).where(and(eq(limits.subjectType, 'user_group'), eq(limits.subjectId, String(id))));
  const rows = await db.delete(userGroups).where(eq(userGroups.id, id)).returning({ id: userGroups.id });
  return rows.length > 0;
}

/**
 * Adds members; existing ones are left alone (idempotent). Sorted inserts keep two
 * overlapping adds from deadlocking. Returns the ids actually added.
 */
export async function addMembers(
  db: Executor,
  groupId: number,
  userIds: readonly string[],
): Promise<string[]> {
  const unique = [...new Set(userIds)].sort();
  if (unique.length === 0) return [];
  const rows = await translate(
    () =>
      db
        .insert(userGroupMembers)
        .values(unique.map((userId) => ({ userGroupId: groupId, userId })))
        .onConflictDoNothing()
        .returning({ userId: userGroupMembers.userId }),
    { groupId },
  );
  return rows.map((r) => r.userId);
}

/** Returns false when the user is not a member. */
export async function removeMember(db: Executor, groupId: number, userId: string): Promise<boolean> {
  const rows = await db
    .delete(userGroupMembers)
    .where(and(eq(userGroupMembers.userGroupId, groupId), eq(userGroupMembers.userId, userId)))
    .returning({ userId: userGroupMembers.userId });
  return rows.length > 0;
}

/** Constraint violations as domain errors; `groupId` is the group a member row references. */
async function translate<T>(
  run: () => Promise<T>,
  ctx: { name?: string; groupId?: number } = {},
): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (uniqueViolation(err) === 'user_groups_name_unique') {
      throw new AppError('name_conflict', `a user group named ${JSON.stringify(ctx.name)} already exists`);
    }
    if (ctx.groupId !== undefined && foreignKeyViolation(err)) throw notFound('user group', ctx.groupId);
    throw err;
  }
}
