import { and, asc, eq, gt, lte, not, type SQL } from 'drizzle-orm';
import type { BoostDraft } from '../../domain/limit-rules.js';
import type { BoostRecord, BucketSubjectType, Metric } from '../../domain/types.js';
import type { Executor } from '../client.js';
import { boosts } from '../schema.js';

/** A boost as stored: the snapshot's record plus its reason and creation time (epoch ms). */
export interface StoredBoost extends BoostRecord {
  reason: string | null;
  createdAt: number;
}

export interface BoostFilter {
  subjectType?: BucketSubjectType;
  subjectId?: string;
  /** Only boosts active (true) or not active (false) at `at` (epoch ms). */
  active?: { at: number; is: boolean };
}

type Row = typeof boosts.$inferSelect;

/** A boosts row as the snapshot holds it (times in epoch ms). */
export function toBoostRecord(row: Row): BoostRecord {
  return {
    id: row.id,
    subjectType: row.subjectType as BucketSubjectType,
    subjectId: row.subjectId,
    modelGroupId: row.modelGroupId,
    metric: row.metric as Metric,
    window: row.window,
    slot: row.slot,
    amount: row.amount,
    startsAt: row.startsAt.getTime(),
    expiresAt: row.expiresAt.getTime(),
  };
}

function toStoredBoost(row: Row): StoredBoost {
  return { ...toBoostRecord(row), reason: row.reason, createdAt: row.createdAt.getTime() };
}

/** Active means startsAt ≤ at < expiresAt (SPEC §1). */
function activeAt(at: number): SQL | undefined {
  const instant = new Date(at);
  return and(lte(boosts.startsAt, instant), gt(boosts.expiresAt, instant));
}

export async function insertBoost(db: Executor, draft: BoostDraft, now: number): Promise<StoredBoost> {
  const [row] = await db
    .insert(boosts)
    .values({
      ...draft,
      startsAt: new Date(draft.startsAt),
      expiresAt: new Date(draft.expiresAt),
      createdAt: new Date(now),
    })
    .returning();
  return toStoredBoost(row!);
}

export async function findBoost(db: Executor, id: number): Promise<StoredBoost | null> {
  const [row] = await db.select().from(boosts).where(eq(boosts.id, id));
  return row ? toStoredBoost(row) : null;
}

export async function listBoosts(db: Executor, filter: BoostFilter): Promise<StoredBoost[]> {
  const active = filter.active ? activeAt(filter.active.at) : undefined;
  const rows = await db
    .select()
    .from(boosts)
    .where(
      and(
        filter.subjectType === undefined ? undefined : eq(boosts.subjectType, filter.subjectType),
        filter.subjectId === undefined ? undefined : eq(boosts.subjectId, filter.subjectId),
        active === undefined ? undefined : filter.active?.is ? active : not(active),
      ),
    )
    .orderBy(asc(boosts.id));
  return rows.map(toStoredBoost);
}

export async function deleteBoost(db: Executor, id: number): Promise<StoredBoost | null> {
  const [row] = await db.delete(boosts).where(eq(boosts.id, id)).returning();
  return row ? toStoredBoost(row) : null;
}
