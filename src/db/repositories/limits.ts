import { and, asc, eq, getTableColumns, isNull, or, sql, type SQL } from 'drizzle-orm';
import type { LimitDraft } from '../../domain/limit-rules.js';
import type { LimitMode, LimitRecord, LimitSubjectType, Metric, Reset } from '../../domain/types.js';
import type { Executor, Tx } from '../client.js';
import { limits } from '../schema.js';

/** A limit as stored: the snapshot's record plus its timestamps (epoch ms). */
export interface StoredLimit extends LimitRecord {
  createdAt: number;
  updatedAt: number;
}

export interface LimitKey {
  subjectType: LimitSubjectType;
  subjectId: string;
  modelGroupId: number | null;
  metric: Metric;
  slot: string;
}

/** Each filter is optional; `modelGroupId: null` selects the all-models scope. */
export interface LimitFilter {
  subjectType?: LimitSubjectType;
  subjectId?: string;
  modelGroupId?: number | null;
  metric?: Metric;
}

type Row = typeof limits.$inferSelect;

/** A limits row as the snapshot and the admin API see it (times in epoch ms). */
export function toLimitRecord(row: Row): LimitRecord {
  return {
    id: row.id,
    subjectType: row.subjectType as LimitSubjectType,
    subjectId: row.subjectId,
    modelGroupId: row.modelGroupId,
    metric: row.metric as Metric,
    window: row.window,
    slot: row.slot,
    reset: row.reset as Reset | null,
    anchor: row.anchor?.getTime() ?? null,
    timezone: row.timezone,
    resetTime: row.resetTime,
    cap: row.cap,
    mode: row.mode as LimitMode,
    alertAt: row.alertAt ?? [],
    override: row.override,
  };
}

function toStoredLimit(row: Row): StoredLimit {
  return { ...toLimitRecord(row), createdAt: row.createdAt.getTime(), updatedAt: row.updatedAt.getTime() };
}

const scopeIs = (modelGroupId: number | null): SQL =>
  modelGroupId === null ? isNull(limits.modelGroupId) : eq(limits.modelGroupId, modelGroupId);

function keyIs(key: LimitKey): SQL | undefined {
  return and(
    eq(limits.subjectType, key.subjectType),
    eq(limits.subjectId, key.subjectId),
    scopeIs(key.modelGroupId),
    eq(limits.metric, key.metric),
    eq(limits.slot, key.slot),
  );
}

export async function findLimit(db: Executor, id: number): Promise<StoredLimit | null> {
  const [row] = await db.select().from(limits).where(eq(limits.id, id));
  return row ? toStoredLimit(row) : null;
}

export async function listLimits(db: Executor, filter: LimitFilter): Promise<StoredLimit[]> {
  const rows = await db
    .select()
    .from(limits)
    .where(
      and(
        filter.subjectType === undefined ? undefined : eq(limits.subjectType, filter.subjectType),
        filter.subjectId === undefined ? undefined : eq(limits.subjectId, filter.subjectId),
        filter.modelGroupId === undefined ? undefined : scopeIs(filter.modelGroupId),
        filter.metric === undefined ? undefined : eq(limits.metric, filter.metric),
      ),
    )
    .orderBy(asc(limits.id));
  return rows.map(toStoredLimit);
}

/**
 * Serializes writers of one natural key until the caller's transaction ends, so the row
 * read before an upsert is exactly the one it replaces (the audit's `before`), even when
 * two first writes of a key race.
 */
export async function lockLimitKey(tx: Tx, key: LimitKey): Promise<void> {
  const text = JSON.stringify([
    'limits',
    key.subjectType,
    key.subjectId,
    key.modelGroupId,
    key.metric,
    key.slot,
  ]);
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${text}, 0))`);
}

export async function findLimitByKey(db: Executor, key: LimitKey): Promise<StoredLimit | null> {
  const [row] = await db.select().from(limits).where(keyIs(key));
  return row ? toStoredLimit(row) : null;
}

/**
 * Insert or replace by natural key. The conflict target is the columns of the
 * `limits_natural_key` constraint (NULLS NOT DISTINCT, so the all-models scope conflicts
 * too); `xmax = 0` holds only for a freshly inserted row version.
 */
export async function upsertLimit(
  db: Executor,
  draft: LimitDraft,
  now: number,
): Promise<{ limit: StoredLimit; created: boolean }> {
  const at = new Date(now);
  const fields = {
    window: draft.window,
    slot: draft.slot,
    reset: draft.reset,
    anchor: draft.anchor === null ? null : new Date(draft.anchor),
    timezone: draft.timezone,
    resetTime: draft.resetTime,
    cap: draft.cap,
    mode: draft.mode,
    alertAt: draft.alertAt.length === 0 ? null : draft.alertAt,
    override: draft.override,
    updatedAt: at,
  };
  const [row] = await db
    .insert(limits)
    .values({
      subjectType: draft.subjectType,
      subjectId: draft.subjectId,
      modelGroupId: draft.modelGroupId,
      metric: draft.metric,
      ...fields,
      createdAt: at,
    })
    .onConflictDoUpdate({
      target: [limits.subjectType, limits.subjectId, limits.modelGroupId, limits.metric, limits.slot],
      set: fields,
    })
    .returning({ ...getTableColumns(limits), created: sql<boolean>`(xmax = 0)` });
  const { created, ...stored } = row!;
  return { limit: toStoredLimit(stored), created };
}

export async function deleteLimit(db: Executor, id: number): Promise<StoredLimit | null> {
  const [row] = await db.delete(limits).where(eq(limits.id, id)).returning();
  return row ? toStoredLimit(row) : null;
}

/** Limits of any of `owners` on one (scope, metric, slot): does a boost there take effect? */
export async function countLimitsOn(
  db: Executor,
  owners: readonly { subjectType: LimitSubjectType; subjectId: string }[],
  where: { modelGroupId: number | null; metric: Metric; slot: string },
): Promise<number> {
  if (owners.length === 0) return 0;
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(limits)
    .where(
      and(
        or(
          ...owners.map((o) => and(eq(limits.subjectType, o.subjectType), eq(limits.subjectId, o.subjectId))),
        ),
        scopeIs(where.modelGroupId),
        eq(limits.metric, where.metric),
        eq(limits.slot, where.slot),
      ),
    );
  return row?.n ?? 0;
}
