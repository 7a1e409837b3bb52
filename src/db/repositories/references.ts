import { asc, eq } from 'drizzle-orm';
import type { Executor } from '../client.js';
import { modelGroups, userGroupMembers, userGroups } from '../schema.js';

/**
 * Rows that limits, boosts and reset markers refer to but do not own. The locks are
 * KEY SHARE: a concurrent delete of the group waits for the caller's transaction, so a
 * limit is never written against a group that vanished under it.
 */
export async function lockModelGroupRef(db: Executor, id: number): Promise<boolean> {
  const rows = await db
    .select({ id: modelGroups.id })
    .from(modelGroups)
    .where(eq(modelGroups.id, id))
    .for('key share');
  return rows.length > 0;
}

export async function lockUserGroupRef(db: Executor, id: number): Promise<boolean> {
  const rows = await db
    .select({ id: userGroups.id })
    .from(userGroups)
    .where(eq(userGroups.id, id))
    .for('key share');
  return rows.length > 0;
}

/** Stored memberships of a user (group ids, ascending). */
export async function userGroupIdsOf(db: Executor, userId: string): Promise<number[]> {
  const rows = await db
    .select({ id: userGroupMembers.userGroupId })
    .from(userGroupMembers)
    .where(eq(userGroupMembers.userId, userId))
    .orderBy(asc(userGroupMembers.userGroupId));
  return rows.map((r) => r.id);
}
