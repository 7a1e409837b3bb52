import { inArray, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { dirtySubjects, usageLedger } from '../db/schema.js';

/** One settle or release as the ledger records it (money in µ$). */
export interface LedgerEntry {
  requestId: string;
  userId: string;
  keyId: string | null;
  model: string;
  modelGroupId: number | null;
  costMicros: number;
  countedInUserGlobal: boolean;
  countedInKeyGlobal: boolean;
  /** Display keys of the buckets the request was counted and charged in. */
  buckets: string[];
  status: 'settled' | 'released';
  reservedAt: Date | null;
  settledAt: Date;
  metadata: unknown;
  /** Redis is known unreachable: mark the subject dirty in the same transaction. */
  markDirty: boolean;
}

export interface StoredLedgerRow {
  requestId: string;
  costMicros: number;
  status: 'settled' | 'released';
  settledAt: Date;
  countedInUserGlobal: boolean;
  countedInKeyGlobal: boolean;
  buckets: string[];
}

/**
 * Inserts entries; a settle on a released row turns it settled (a settle after a release
 * still records the cost). Returns the request ids this call wrote.
 */
export async function insertEntries(tx: Executor, entries: LedgerEntry[]): Promise<Set<string>> {
  const written = await tx
    .insert(usageLedger)
    .values(entries.map(({ markDirty: _skip, ...row }) => row))
    .onConflictDoUpdate({
      target: usageLedger.requestId,
      set: {
        costMicros: sql`excluded.cost_micros`,
        status: sql`excluded.status`,
        settledAt: sql`excluded.settled_at`,
        metadata: sql`excluded.metadata`,
      },
      setWhere: sql`${usageLedger.status} = 'released' and excluded.status = 'settled'`,
    })
    .returning({ requestId: usageLedger.requestId });
  const dirty = [...new Set(entries.filter((e) => e.markDirty).map((e) => e.userId))];
  if (dirty.length > 0) {
    await tx
      .insert(dirtySubjects)
      .values(dirty.map((subject) => ({ subject })))
      .onConflictDoUpdate({ target: dirtySubjects.subject, set: { markedAt: sql`now()` } });
  }
  return new Set(written.map((w) => w.requestId));
}

export async function findRows(tx: Executor, requestIds: string[]): Promise<Map<string, StoredLedgerRow>> {
  if (requestIds.length === 0) return new Map();
  const rows = await tx
    .select({
      requestId: usageLedger.requestId,
      costMicros: usageLedger.costMicros,
      status: usageLedger.status,
      settledAt: usageLedger.settledAt,
      countedInUserGlobal: usageLedger.countedInUserGlobal,
      countedInKeyGlobal: usageLedger.countedInKeyGlobal,
      buckets: usageLedger.buckets,
    })
    .from(usageLedger)
    .where(inArray(usageLedger.requestId, requestIds));
  return new Map(rows.map((r) => [r.requestId, { ...r, status: r.status as StoredLedgerRow['status'] }]));
}
