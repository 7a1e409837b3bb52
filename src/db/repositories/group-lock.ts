import { eq } from 'drizzle-orm';
import type { Executor } from '../client.js';
import type { modelGroups, userGroups } from '../schema.js';

/**
 * Locks one group row until the caller's transaction ends; false if it does not exist.
 * `no key update`: the group itself changes (rename, members, delete). `key share`: a row
 * refers to it (a limit, a boost), so a concurrent delete of the group waits for us.
 */
export async function lockGroupRow(
  db: Executor,
  table: typeof modelGroups | typeof userGroups,
  id: number,
  strength: 'no key update' | 'key share',
): Promise<boolean> {
  const rows = await db.select({ id: table.id }).from(table).where(eq(table.id, id)).for(strength);
  return rows.length > 0;
}
