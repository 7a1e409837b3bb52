import { desc } from 'drizzle-orm';
import type { Executor } from '../client.js';
import { auditLog } from '../schema.js';

/** One admin change as recorded by adminWrite (src/admin/admin-write.ts). */
export interface AuditRecord {
  id: number;
  /** Token name of the caller. */
  actor: string;
  action: string;
  entityType: string;
  entityId: string | null;
  before: unknown;
  after: unknown;
  at: Date;
}

/** Newest first; rows written in one transaction share `at`, so id breaks the tie. */
export function listAudit(db: Executor, limit: number): Promise<AuditRecord[]> {
  return db.select().from(auditLog).orderBy(desc(auditLog.at), desc(auditLog.id)).limit(limit);
}
