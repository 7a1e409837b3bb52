import { sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.js';
import { auditLog, configVersion } from '../db/schema.js';
import type { ConfigSync } from '../snapshot/config-sync.js';

/** What every admin service needs: the database, the snapshot to refresh, who acts. */
export interface AdminContext {
  db: Db;
  sync: ConfigSync;
  /** Token name of the caller, for the audit log (never the token). */
  actor: string;
}

export interface AuditEntry {
  action: string;
  entityType: string;
  entityId: string | number | null;
  before: unknown;
  after: unknown;
}

/**
 * Runs one admin change: the change, its audit rows and the config version bump commit
 * together or not at all. After commit the version is announced to the other instances
 * and this instance reloads before the caller answers (read-your-writes).
 */
export async function adminWrite<T>(
  ctx: AdminContext,
  change: (tx: Tx) => Promise<{ result: T; audit: AuditEntry | AuditEntry[] }>,
): Promise<T> {
  const { result, version } = await ctx.db.transaction(async (tx) => {
    const { result, audit } = await change(tx);
    const entries = Array.isArray(audit) ? audit : [audit];
    if (entries.length > 0) {
      await tx.insert(auditLog).values(
        entries.map((e) => ({
          actor: ctx.actor,
          action: e.action,
          entityType: e.entityType,
          entityId: e.entityId === null ? null : String(e.entityId),
          before: toJson(e.before),
          after: toJson(e.after),
        })),
      );
    }
    const [bumped] = await tx
      .update(configVersion)
      .set({ version: sql`${configVersion.version} + 1`, updatedAt: sql`now()` })
      .returning({ version: configVersion.version });
    return { result, version: bumped?.version ?? 0 };
  });
  await ctx.sync.publish(version);
  await ctx.sync.reloadAtLeast(version);
  return result;
}

/** Dates and nested objects as plain JSON for the jsonb columns. */
function toJson(value: unknown): unknown {
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}
