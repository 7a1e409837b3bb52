import { and, desc, eq, gt, gte, or, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { firstUseWindows, sessionAdmissions, usageLedger } from '../db/schema.js';
import type { StoreBucket, SubjectSeed } from '../store/counter-store.js';

/** How long a late Redis apply of a settle may trail its commit; the store's marker TTL matches. */
export const LATE_APPLY_WINDOW_MS = 15 * 60_000;

type SeedBucket = SubjectSeed['buckets'][number];

/**
 * Rebuilds the cold buckets of one subject from the truth in PostgreSQL: cost and request
 * counts from the ledger, session admissions from the admission log, first-use window
 * starts from their table. Holds and concurrency slots are not durable (SPEC §4.5).
 */
export async function rebuildSeed(
  db: Executor,
  subject: string,
  buckets: StoreBucket[],
  now: number,
): Promise<SubjectSeed> {
  const seeded = await Promise.all(buckets.map((bucket) => rebuildBucket(db, bucket, now)));
  const recent = now - LATE_APPLY_WINDOW_MS;
  const included = new Set<string>();
  for (const b of seeded) for (const u of b.usage) if (u.at > recent) included.add(u.requestId);
  return { subject, now, buckets: seeded, includedRequestIds: [...included] };
}

async function rebuildBucket(db: Executor, bucket: StoreBucket, now: number): Promise<SeedBucket> {
  const firstUseStart = await openFirstUseStart(db, bucket, now);
  const from = rangeStart(bucket, now, firstUseStart);
  const empty: SeedBucket = { bucket, usage: [], sessions: [], firstUseStart };
  if (from === null) return empty;
  switch (bucket.metric) {
    case 'cost':
      return { ...empty, usage: await costUsage(db, bucket.id, from) };
    case 'requests':
      return { ...empty, usage: await requestUsage(db, bucket.id, from) };
    case 'sessions':
      return { ...empty, sessions: await admissions(db, bucket.id, from, now) };
    case 'concurrency':
      return empty;
  }
}

/** Earliest instant whose usage counts now; null when nothing can count (no open first-use window). */
function rangeStart(bucket: StoreBucket, now: number, firstUseStart: number | null): number | null {
  const c = bucket.counting;
  switch (c.mode) {
    case 'window':
      return c.start;
    case 'first_use':
      return firstUseStart === null ? null : Math.max(firstUseStart, c.floor);
    case 'slices':
    case 'log':
      // Exclusive lower bound of (now − length, now], made inclusive by one millisecond.
      return Math.max(now - c.lengthMs + 1, c.floor);
    case 'concurrency':
      return null;
  }
}

async function openFirstUseStart(db: Executor, bucket: StoreBucket, now: number): Promise<number | null> {
  if (bucket.counting.mode !== 'first_use') return null;
  const { lengthMs, floor } = bucket.counting;
  const [row] = await db
    .select({ startedAt: firstUseWindows.startedAt })
    .from(firstUseWindows)
    .where(
      and(
        eq(firstUseWindows.bucketKey, bucket.id),
        gt(firstUseWindows.startedAt, new Date(Math.max(now - lengthMs, floor - 1))),
      ),
    )
    .orderBy(desc(firstUseWindows.startedAt))
    .limit(1);
  return row ? row.startedAt.getTime() : null;
}

const containsBucket = (id: string) => sql`${usageLedger.buckets} @> ${JSON.stringify([id])}::jsonb`;

async function costUsage(db: Executor, id: string, from: number): Promise<SeedBucket['usage']> {
  const rows = await db
    .select({ requestId: usageLedger.requestId, at: usageLedger.settledAt, amount: usageLedger.costMicros })
    .from(usageLedger)
    .where(
      and(containsBucket(id), eq(usageLedger.status, 'settled'), gte(usageLedger.settledAt, new Date(from))),
    );
  return rows.map((r) => ({ requestId: r.requestId, at: r.at.getTime(), amount: r.amount }));
}

/** A request counts when it was admitted (reserve), or settled for a direct settle. */
async function requestUsage(db: Executor, id: string, from: number): Promise<SeedBucket['usage']> {
  const countedAt = sql<Date>`coalesce(${usageLedger.reservedAt}, ${usageLedger.settledAt})`;
  const rows = await db
    .select({ requestId: usageLedger.requestId, at: countedAt.mapWith(usageLedger.settledAt) })
    .from(usageLedger)
    .where(and(containsBucket(id), sql`${countedAt} >= ${new Date(from).toISOString()}`));
  return rows.map((r) => ({ requestId: r.requestId, at: r.at.getTime(), amount: 1 }));
}

/** Admissions in the window, plus older ones still active (a reconnect passes whatever the count). */
async function admissions(
  db: Executor,
  id: string,
  from: number,
  now: number,
): Promise<SeedBucket['sessions']> {
  const rows = await db
    .select({
      sessionId: sessionAdmissions.sessionId,
      admittedAt: sessionAdmissions.admittedAt,
      activeUntil: sessionAdmissions.activeUntil,
    })
    .from(sessionAdmissions)
    .where(
      and(
        eq(sessionAdmissions.bucketKey, id),
        or(
          gte(sessionAdmissions.admittedAt, new Date(from)),
          gt(sessionAdmissions.activeUntil, new Date(now)),
        ),
      ),
    );
  return rows.map((r) => ({
    sessionId: r.sessionId,
    admittedAt: r.admittedAt.getTime(),
    activeUntil: r.activeUntil.getTime(),
  }));
}
