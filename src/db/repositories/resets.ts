import { and, asc, eq } from 'drizzle-orm';
import type { ResetMarkerDraft } from '../../domain/limit-rules.js';
import type { BucketSubjectType, Metric, ResetMarkerRecord } from '../../domain/types.js';
import type { Executor } from '../client.js';
import { resetMarkers } from '../schema.js';

/** A reset marker as stored: the snapshot's record plus id, window text and creation time. */
export interface StoredResetMarker extends ResetMarkerRecord {
  id: number;
  window: string | null;
  createdAt: number;
}

export interface ResetMarkerFilter {
  subjectType?: BucketSubjectType;
  subjectId?: string;
}

type Row = typeof resetMarkers.$inferSelect;

/** A reset_markers row as the snapshot holds it (times in epoch ms). */
export function toResetMarkerRecord(row: Row): ResetMarkerRecord {
  return {
    subjectType: row.subjectType as BucketSubjectType,
    subjectId: row.subjectId,
    modelGroupId: row.modelGroupId,
    metric: row.metric as Metric,
    slot: row.slot,
    resetAt: row.resetAt.getTime(),
  };
}

function toStoredMarker(row: Row): StoredResetMarker {
  return { ...toResetMarkerRecord(row), id: row.id, window: row.window, createdAt: row.createdAt.getTime() };
}

export async function insertResetMarker(
  db: Executor,
  draft: ResetMarkerDraft,
  resetAt: number,
): Promise<StoredResetMarker> {
  const at = new Date(resetAt);
  const [row] = await db
    .insert(resetMarkers)
    .values({ ...draft, resetAt: at, createdAt: at })
    .returning();
  return toStoredMarker(row!);
}

export async function listResetMarkers(
  db: Executor,
  filter: ResetMarkerFilter,
): Promise<StoredResetMarker[]> {
  const rows = await db
    .select()
    .from(resetMarkers)
    .where(
      and(
        filter.subjectType === undefined ? undefined : eq(resetMarkers.subjectType, filter.subjectType),
        filter.subjectId === undefined ? undefined : eq(resetMarkers.subjectId, filter.subjectId),
      ),
    )
    .orderBy(asc(resetMarkers.id));
  return rows.map(toStoredMarker);
}
