import { asc, eq } from 'drizzle-orm';
import type { Executor } from '../client.js';
import { lockGroupRow } from './group-lock.js';
import { modelGroups, userGroupMembers, userGroups } from '../schema.js';

/**
 * Rows that limits, boosts and reset markers refer to but do not own. The locks are
 * KEY SHARE: a concurrent delete of the group waits for the caller's transaction, so a
 * limit is never written against a group that vanished under it.
 */
export function lockModelGroupRef(db: Executor, id: number): Promise<boolean> {
  return lockGroupRow(db, modelGroups, id, 'key share');
}

export function lockUserGroupRef(db: Executor, id: number): Promise<boolean> {
  return lockGroupRow(db, userGroups, id, 'key share');
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
