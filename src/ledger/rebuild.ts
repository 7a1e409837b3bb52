import { and, desc, eq, gt, gte, sql } from 'drizzle-orm';
import {
  containsBucket,
  countedAt,
  countedSince,
  rawCells,
  rowAmount,
  type CountedMetric,
} from './bucket-rows.js';
import { rowsOf, type Db, type Executor } from '../db/client.js';
import { sessionAdmissions, usageLedger } from '../db/schema.js';
import { reservedCounts, reservedRequests } from '../reservations/rows.js';
import type { SeedWatermark, StoreBucket, SubjectSeed } from '../store/counter-store.js';
import { activeSessionsKept, LATE_APPLY_WINDOW_MS } from '../store/store-constants.js';
import { isHeldMetric } from '../domain/types.js';
import type { Counting } from '../domain/counting.js';
import { rollingStart } from '../domain/windows.js';
import { allTimeUsage, rolledMinutesFrom, rolledUsage, type RolledUsage } from './rollup-read.js';
import { coarsestLevel, rawEdge, SLICE_MS, type SliceLevel } from './rollup-slices.js';
import { openFirstUseStart } from './first-use-starts.js';

type SeedBucket = SubjectSeed['buckets'][number];
type Usage = SeedBucket['usage'][number];

export interface SettleExclusion {
  requestId: string;
  /** A direct settle counts its request itself. */
  countsRequest: boolean;
}

/**
 * Rebuilds the cold buckets of one subject from the truth in PostgreSQL: cost and request
 * counts from the ledger (its rollups: a bounded read however many rows the windows hold),
 * session admissions from the admission log, first-use window starts from their table.
 * Holds and concurrency slots are not durable (SPEC §4.5). Every read is in one snapshot,
 * which the seed carries as its watermark: a settle applied later is charged again exactly
 * when that snapshot did not see its commit (src/ledger/README.md).
 */
export async function rebuildSeed(
  db: Db,
  subject: string,
  buckets: StoreBucket[],
  now: number,
  /**
   * A settle rebuilding for itself leaves its own charge out, then makes it (and sees the
   * thresholds it crosses): in the buckets it charges, never a request its reserve counted.
   */
  exclude: SettleExclusion | null = null,
): Promise<Omit<SubjectSeed, 'generation'>> {
  const charged = (b: StoreBucket) =>
    isHeldMetric(b.metric) || (b.metric === 'requests' && exclude?.countsRequest === true);
  return inOneSnapshot(db, exclude, async (tx) => {
    const seeded: SeedBucket[] = [];
    // One after the other: a transaction is one connection.
    for (const bucket of buckets)
      seeded.push(
        await rebuildBucket(tx, bucket, now, exclude && charged(bucket) ? exclude.requestId : null),
      );
    return { subject, now, buckets: seeded };
  });
}

/**
 * Runs the reads in one REPEATABLE READ snapshot and names it: `pg_current_snapshot()` is
 * then the snapshot of every statement, so the watermark says exactly which commits the
 * seed counted, however concurrent settles interleave (row ids or times could not).
 */
async function inOneSnapshot(
  db: Db,
  exclude: SettleExclusion | null,
  read: (tx: Executor) => Promise<Omit<SubjectSeed, 'generation' | 'watermark'>>,
): Promise<Omit<SubjectSeed, 'generation'>> {
  return db.transaction(
    async (tx) => {
      const result = await tx.execute(sql`select pg_current_snapshot()::text as snapshot`);
      const snapshot = rowsOf<{ snapshot: string }>(result)[0]?.snapshot;
      if (!snapshot) throw new Error('rebuild: no snapshot');
      const watermark: SeedWatermark = { snapshot, excludedRequestId: exclude?.requestId ?? null };
      return { ...(await read(tx)), watermark };
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}

async function rebuildBucket(
  db: Executor,
  bucket: StoreBucket,
  now: number,
  excluded: string | null,
): Promise<SeedBucket> {
  const firstUseStart = await openFirstUseStart(db, bucket, now);
  const from = rangeStart(bucket, now, firstUseStart);
  const empty: SeedBucket = { bucket, usage: [], sessions: [], firstUseStart };
  if (from === null) return empty;
  switch (bucket.metric) {
    case 'cost':
    case 'input_tokens':
    case 'output_tokens':
    case 'tokens':
    case 'requests':
      return { ...empty, usage: await bucketUsage(db, bucket, bucket.metric, from, now, excluded) };
    case 'sessions':
      return { ...empty, sessions: await admissions(db, bucket, from, now) };
    case 'concurrency':
      return empty;
  }
}

const MINUTE = SLICE_MS.minute;
const ceilMinute = (t: number) => Math.ceil(t / MINUTE) * MINUTE;

/**
 * A bucket's usage from `from` on. An exact `log` bucket reads raw rows, its newest
 * max(limit, 1000) — all the store's log keeps (SPEC §4.1). Any other reads rollups where a
 * minute's sum counts as its rows would (minuteExact), and sums raw rows in SQL per slice
 * where it does not; either way a bounded number of rows per bucket.
 */
async function bucketUsage(
  db: Executor,
  bucket: StoreBucket,
  metric: CountedMetric,
  from: number,
  now: number,
  excluded: string | null,
): Promise<Usage[]> {
  const c = bucket.counting;
  if (c.mode === 'log') return logUsage(db, bucket, from, excluded);
  const ledgered =
    c.mode === 'slices' && !minuteExact(c)
      ? await bySlices(db, bucket.id, metric, c, from, now, excluded)
      : await byMinutes(db, bucket.id, metric, c, { from, now }, excluded);
  const taken = excluded === null ? ledgered : await leaveOut(db, bucket.id, metric, ledgered, excluded);
  const reserved = metric === 'requests' ? await reservedUsage(db, bucket, from) : [];
  return [...taken.map(({ cell: _, ...u }) => u), ...reserved];
}

/**
 * Whether a minute's rollup counts in the seed exactly as its rows would: in a window or
 * first-use counter only a boundary inside the minute matters (the start's minute is read
 * raw, an end lies ahead of every row), in slices the minute must lie in one slice.
 */
function minuteExact(c: Counting): boolean {
  return c.mode !== 'slices' || c.sliceMs % MINUTE === 0;
}

/** Usage with the rollup cell it came from (null: summed raw, the excluded request already left out). */
type Placed = Omit<RolledUsage, 'cell'> & { cell: RolledUsage['cell'] | null };

/**
 * Minute-exact buckets: the start's partial minute summed raw, whole slices from rollups up
 * to the current minute, the current minute (and any later one) from its minute row. A
 * `total` window without a reset marker is its all-time row.
 */
async function byMinutes(
  db: Executor,
  id: string,
  metric: CountedMetric,
  c: Counting,
  { from, now }: { from: number; now: number },
  excluded: string | null,
): Promise<Placed[]> {
  if (from <= 0) return allTimeUsage(db, id, metric, Math.max(from, 0));
  const start = c.mode === 'slices' ? from : ceilMinute(from);
  const head = start > from ? await rawCells(db, id, metric, { from, to: start }, null, excluded) : [];
  const maxLevel: SliceLevel = c.mode === 'slices' ? coarsestLevel(c.lengthMs) : 'day';
  const body = await rolledUsage(db, id, metric, start, now, maxLevel);
  // A window that ends inside a minute must see that minute's sum before its end.
  const place = c.mode === 'slices' ? (_: number, last: number) => last : (s: number) => Math.max(s, from);
  const tail = await rolledMinutesFrom(db, id, metric, Math.max(body.rawFrom, start), place);
  return [...head.map((u) => raw(u)), ...body.usage, ...tail];
}

/**
 * Slices shorter than a minute, or not whole minutes: a minute's rollup could straddle two
 * slices, so the last LATE_APPLY_WINDOW_MS is summed raw, one row per slice (at most 61 a
 * window), and only older usage comes from rollups, placed at their last instant (never
 * under-counts), as it always has.
 */
async function bySlices(
  db: Executor,
  id: string,
  metric: CountedMetric,
  c: Extract<Counting, { mode: 'slices' }>,
  from: number,
  now: number,
  excluded: string | null,
): Promise<Placed[]> {
  const rawFrom = Math.max(from, rawEdge(from, now - LATE_APPLY_WINDOW_MS));
  const old = await rolledUsage(db, id, metric, from, now - LATE_APPLY_WINDOW_MS, coarsestLevel(c.lengthMs));
  const recent = await rawCells(db, id, metric, { from: rawFrom, to: null }, c.sliceMs, excluded);
  return [...old.usage, ...recent.map((u) => raw(u))];
}

const raw = (u: { at: number; amount: number }): Placed => ({ requestId: `raw:${u.at}`, ...u, cell: null });

/** The excluded settle taken out of the rollup cell that sums it (a raw sum left it out already). */
async function leaveOut(
  db: Executor,
  id: string,
  metric: CountedMetric,
  usage: Placed[],
  excluded: string,
): Promise<Placed[]> {
  const own = await rowAmount(db, id, metric, excluded);
  if (!own) return usage;
  const i = usage.findIndex((u) => u.cell !== null && u.cell.from <= own.at && own.at < u.cell.to);
  if (i < 0) return usage;
  return usage.map((u, j) => (j === i ? { ...u, amount: u.amount - own.amount } : u));
}

/**
 * Reservations the ledger does not know yet (open, or lapsed without a settle or release),
 * so no rebuild forgets an admitted request (SPEC §4.5). In the same snapshot as the
 * ledger's rows: the statement that ledgers a request deletes its reservation. Counted per
 * slice (one count for a window or first-use counter): the seed sums them anyway.
 */
async function reservedUsage(db: Executor, bucket: StoreBucket, from: number): Promise<Usage[]> {
  const sliceMs = bucket.counting.mode === 'slices' ? bucket.counting.sliceMs : null;
  const counts = await reservedCounts(db, bucket.id, from, sliceMs);
  return counts.map((c) => ({ requestId: `reserved:${c.at}`, at: c.at, amount: c.count }));
}

/**
 * A request counts when it was admitted (reserve), or settled for a direct settle: the
 * ledger's newest rows, plus reservations the ledger does not know yet.
 */
async function logUsage(
  db: Executor,
  bucket: StoreBucket,
  from: number,
  excluded: string | null,
): Promise<Usage[]> {
  const newest = Math.max(bucket.limit, 1000);
  const ledgered = await db
    .select({ requestId: usageLedger.requestId, at: countedAt().mapWith(usageLedger.settledAt) })
    .from(usageLedger)
    .where(and(containsBucket(bucket.id), countedSince(from)))
    .orderBy(desc(countedAt()))
    .limit(newest);
  const usage = new Map<string, Usage>();
  for (const r of await reservedRequests(db, bucket.id, from, newest))
    usage.set(r.requestId, { requestId: r.requestId, at: r.at.getTime(), amount: 1 });
  for (const r of ledgered) usage.set(r.requestId, { requestId: r.requestId, at: r.at.getTime(), amount: 1 });
  if (excluded !== null) usage.delete(excluded);
  return [...usage.values()];
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
      return rollingStart(c, now);
    case 'concurrency':
      return null;
  }
}

/**
 * Admissions in the window, plus older ones still active (a reconnect passes whatever the
 * count), the latter bounded like the live structure: memory per bucket never depends on
 * the `sessionTtlSeconds` callers send (SPEC §4.1).
 */
async function admissions(
  db: Executor,
  bucket: StoreBucket,
  from: number,
  now: number,
): Promise<SeedBucket['sessions']> {
  const columns = {
    sessionId: sessionAdmissions.sessionId,
    admittedAt: sessionAdmissions.admittedAt,
    activeUntil: sessionAdmissions.activeUntil,
  };
  const [inWindow, active] = await Promise.all([
    db
      .select(columns)
      .from(sessionAdmissions)
      .where(
        and(eq(sessionAdmissions.bucketKey, bucket.id), gte(sessionAdmissions.admittedAt, new Date(from))),
      ),
    db
      .select(columns)
      .from(sessionAdmissions)
      .where(
        and(eq(sessionAdmissions.bucketKey, bucket.id), gt(sessionAdmissions.activeUntil, new Date(now))),
      )
      .orderBy(desc(sessionAdmissions.activeUntil))
      .limit(activeSessionsKept(bucket.limit)),
  ]);
  const rows = new Map<string, (typeof inWindow)[number]>();
  for (const r of [...active, ...inWindow]) rows.set(`${r.sessionId}@${r.admittedAt.getTime()}`, r);
  return [...rows.values()].map((r) => ({
    sessionId: r.sessionId,
    admittedAt: r.admittedAt.getTime(),
    activeUntil: r.activeUntil.getTime(),
  }));
}
