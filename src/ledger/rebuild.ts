import { and, desc, eq, gt, gte, sql } from 'drizzle-orm';
import { containsBucket, countedAt, countedSince } from './bucket-rows.js';
import type { Executor } from '../db/client.js';
import { sessionAdmissions, usageLedger } from '../db/schema.js';
import { reservedRequests } from '../reservations/rows.js';
import type { StoreBucket, SubjectSeed } from '../store/counter-store.js';
import { activeSessionsKept, LATE_APPLY_WINDOW_MS } from '../store/store-constants.js';
import { isHeldMetric, type HeldMetric } from '../domain/types.js';
import { rollingStart } from '../domain/windows.js';
import { rolledUsage, type RolledMetric } from './rollup-read.js';
import { coarsestLevel, rawEdge, type SliceLevel } from './rollup-slices.js';
import { openFirstUseStart } from './first-use-starts.js';

type SeedBucket = SubjectSeed['buckets'][number];

export interface SettleExclusion {
  requestId: string;
  /** A direct settle counts its request itself. */
  countsRequest: boolean;
}

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
  /**
   * A settle rebuilding for itself leaves its own charge out, then makes it (and sees the
   * thresholds it crosses): in the buckets it charges, never a request its reserve counted.
   */
  exclude: SettleExclusion | null = null,
): Promise<Omit<SubjectSeed, 'generation'>> {
  const all = await Promise.all(buckets.map((bucket) => rebuildBucket(db, bucket, now)));
  const charged = (b: StoreBucket) =>
    isHeldMetric(b.metric) || (b.metric === 'requests' && exclude?.countsRequest === true);
  const rebuilt = all.map((b) =>
    exclude && charged(b.bucket)
      ? { ...b, usage: b.usage.filter((u) => u.requestId !== exclude.requestId) }
      : b,
  );
  const recent = now - LATE_APPLY_WINDOW_MS;
  const included = new Set<string>();
  // Only settled requests: the settle of an open or released one must still charge its cost.
  for (const b of rebuilt)
    for (const u of b.usage)
      if (u.at > recent && u.settled && u.requestId !== exclude?.requestId) included.add(u.requestId);
  const seeded = rebuilt.map((b) => ({ ...b, usage: b.usage.map(({ settled: _, ...u }) => u) }));
  return { subject, now, buckets: seeded, includedRequestIds: [...included] };
}

/** `settled`: the ledger holds the request's settle (not only a reservation or a release). */
type Usage = SeedBucket['usage'][number] & { settled: boolean };
type RebuiltBucket = Omit<SeedBucket, 'usage'> & { usage: Usage[] };

async function rebuildBucket(db: Executor, bucket: StoreBucket, now: number): Promise<RebuiltBucket> {
  const firstUseStart = await openFirstUseStart(db, bucket, now);
  const from = rangeStart(bucket, now, firstUseStart);
  const empty: RebuiltBucket = { bucket, usage: [], sessions: [], firstUseStart };
  if (from === null) return empty;
  switch (bucket.metric) {
    case 'cost':
    case 'input_tokens':
    case 'output_tokens':
    case 'tokens':
      return { ...empty, usage: await withRollups(db, bucket, bucket.metric, from, now, chargedUsage) };
    case 'requests':
      return { ...empty, usage: await withRollups(db, bucket, 'requests', from, now, requestUsage) };
    case 'sessions':
      return { ...empty, sessions: await admissions(db, bucket, from, now) };
    case 'concurrency':
      return empty;
  }
}

/** Raw usage of the window from `from`, its ledger rows from `ledgerFrom` on (older ones are rolled up). */
type RawRead<M> = (
  db: Executor,
  id: string,
  metric: M,
  from: number,
  ledgerFrom: number,
  newest: number | null,
) => Promise<Usage[]>;

/**
 * Old usage from the rollups, the recent edge (at least LATE_APPLY_WINDOW_MS) from raw rows
 * so exclusions and includedRequestIds stay exact. An exact `log` bucket reads raw rows
 * only, its newest max(limit, 1000) — all the store's log keeps (SPEC §4.1).
 */
async function withRollups<M extends RolledMetric>(
  db: Executor,
  bucket: StoreBucket,
  metric: M,
  from: number,
  now: number,
  raw: RawRead<M>,
): Promise<Usage[]> {
  const c = bucket.counting;
  if (c.mode === 'log') return raw(db, bucket.id, metric, from, from, Math.max(bucket.limit, 1000));
  const maxLevel: SliceLevel = c.mode === 'slices' ? coarsestLevel(c.lengthMs) : 'day';
  // Raw reads (reservations, then ledger) before the rollups: a settle committing meanwhile
  // may count twice (refuse early), never not at all.
  const rawFrom = rawEdge(from, now - LATE_APPLY_WINDOW_MS);
  const recent = await raw(db, bucket.id, metric, from, Math.max(from, rawFrom), null);
  const old = await rolledUsage(db, bucket.id, metric, from, now - LATE_APPLY_WINDOW_MS, maxLevel);
  return [...old.usage.map((u) => ({ ...u, settled: false })), ...recent];
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

/** What a settle charged a held metric's bucket: µ$, or tokens (`tokens` = input + output). */
function chargedColumn(metric: HeldMetric) {
  switch (metric) {
    case 'cost':
      return usageLedger.costMicros;
    case 'input_tokens':
      return usageLedger.inputTokens;
    case 'output_tokens':
      return usageLedger.outputTokens;
    case 'tokens':
      return sql<number>`${usageLedger.inputTokens} + ${usageLedger.outputTokens}`.mapWith(Number);
  }
}

async function chargedUsage(
  db: Executor,
  id: string,
  metric: HeldMetric,
  _from: number,
  ledgerFrom: number,
): Promise<Usage[]> {
  // Held metrics never count in `log` mode: no newest-first bound needed.
  const rows = await db
    .select({ requestId: usageLedger.requestId, at: usageLedger.settledAt, amount: chargedColumn(metric) })
    .from(usageLedger)
    .where(
      and(
        containsBucket(id),
        eq(usageLedger.status, 'settled'),
        gte(usageLedger.settledAt, new Date(ledgerFrom)),
      ),
    );
  return rows.map((r) => ({ requestId: r.requestId, at: r.at.getTime(), amount: r.amount, settled: true }));
}

/**
 * A request counts when it was admitted (reserve), or settled for a direct settle: the
 * ledger's rows, plus reservations the ledger does not know yet (open, or lapsed without a
 * settle or release), so no rebuild forgets an admitted request (SPEC §4.5).
 */
async function requestUsage(
  db: Executor,
  id: string,
  _metric: 'requests',
  from: number,
  ledgerFrom: number,
  newest: number | null,
): Promise<Usage[]> {
  const reserved = await reservedRequests(db, id, from);
  // Read after the reservations: a settle deleting one commits its ledger row first.
  const ledgered = await db
    .select({
      requestId: usageLedger.requestId,
      at: countedAt().mapWith(usageLedger.settledAt),
      status: usageLedger.status,
    })
    .from(usageLedger)
    .where(and(containsBucket(id), countedSince(ledgerFrom)))
    .orderBy(desc(countedAt()))
    .limit(newest ?? Number.MAX_SAFE_INTEGER);
  const usage = new Map<string, Usage>();
  for (const r of reserved)
    usage.set(r.requestId, { requestId: r.requestId, at: r.at.getTime(), amount: 1, settled: false });
  // A request in both (its settle committed between the two reads) is the ledger's.
  for (const r of ledgered)
    usage.set(r.requestId, {
      requestId: r.requestId,
      at: r.at.getTime(),
      amount: 1,
      settled: r.status === 'settled',
    });
  return [...usage.values()];
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
