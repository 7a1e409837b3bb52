import { eq } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { toBoostRecord } from '../db/repositories/boosts.js';
import { toLimitRecord } from '../db/repositories/limits.js';
import { toResetMarkerRecord } from '../db/repositories/resets.js';
import {
  boosts,
  configVersion,
  limits,
  modelGroupMembers,
  modelGroups,
  resetMarkers,
  userGroupMembers,
  userGroups,
} from '../db/schema.js';
import type { SnapshotRows } from './snapshot.js';

export async function readConfigVersion(db: Executor): Promise<number> {
  const [row] = await db
    .select({ version: configVersion.version })
    .from(configVersion)
    .where(eq(configVersion.id, 1));
  return row?.version ?? 0;
}

/** Reads all config in one read-only, repeatable-read transaction: one consistent version. */
export async function loadSnapshotRows(db: Executor): Promise<SnapshotRows> {
  return db.transaction(
    async (tx) => {
      const version = await readConfigVersion(tx);
      // One connection serves a transaction: its queries run one after another.
      const groups = await tx.select({ id: modelGroups.id, name: modelGroups.name }).from(modelGroups);
      const members = await tx
        .select({ model: modelGroupMembers.model, modelGroupId: modelGroupMembers.modelGroupId })
        .from(modelGroupMembers);
      const ugroups = await tx.select({ id: userGroups.id, name: userGroups.name }).from(userGroups);
      const umembers = await tx
        .select({ userGroupId: userGroupMembers.userGroupId, userId: userGroupMembers.userId })
        .from(userGroupMembers);
      const limitRows = await tx.select().from(limits);
      const boostRows = await tx.select().from(boosts);
      const markerRows = await tx.select().from(resetMarkers);
      return {
        version,
        modelGroups: groups,
        modelMembers: members,
        userGroups: ugroups,
        userMembers: umembers,
        limits: limitRows.map(toLimitRecord),
        boosts: boostRows.map(toBoostRecord),
        resetMarkers: markerRows.map(toResetMarkerRecord),
      };
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}
