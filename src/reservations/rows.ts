import { and, desc, eq, gte, Param, sql, type SQL } from 'drizzle-orm';
import { rowsOf, type Db, type Executor } from '../db/client.js';
import { reservations } from '../db/schema.js';

/**
 * The only SQL on the `reservations` table (SPEC §4.5): rows written behind an admitted
 * /reserve, read by settles whose record Redis lost, by /extend and by rebuilds, and
 * deleted by the ledger write that records their request (ledger-statement.ts runs
 * CLOSE_LEDGERED inside its one statement).
 */

export interface ReservationRow {
  requestId: string;
  userId: string;
  reservedAt: Date;
  expiresAt: Date;
  /** Display keys of the `requests` buckets it counted in. */
  buckets: string[];
  payload: string;
}

/**
 * A reservation the ledger already counts (settled or released before this flush) is not
 * written: its row would only be deleted again. A request id reused after its first
 * reservation keeps the first row (the ledger is the idempotency record).
 */
export async function insertReservations(tx: Executor, rows: ReservationRow[]): Promise<void> {
  const column = <T>(pick: (r: ReservationRow) => T) => new Param(rows.map(pick));
  await tx.execute(sql`
    insert into reservations (request_id, user_id, reserved_at, expires_at, buckets, payload)
    select r.* from unnest(
      ${column((r) => r.requestId)}::text[], ${column((r) => r.userId)}::text[],
      ${column((r) => r.reservedAt.toISOString())}::timestamptz[],
      ${column((r) => r.expiresAt.toISOString())}::timestamptz[],
      ${column((r) => JSON.stringify(r.buckets))}::jsonb[], ${column((r) => r.payload)}::text[]
    ) as r(request_id, user_id, reserved_at, expires_at, buckets, payload)
    where not exists (select 1 from usage_ledger l where l.request_id = r.request_id)
    on conflict (request_id) do nothing`);
}

/**
 * The ledger now counts these requests: their rows have done their job. A CTE of the ledger
 * statement (ledger-statement.ts), so the row goes in the transaction that counts it; the
 * statement's `entry` CTE names the request ids.
 */
export const CLOSE_LEDGERED = 'delete from reservations where request_id in (select request_id from entry)';

/** request id → stored payload, for the ids that have a row. */
export async function payloadsOf(db: Db, ids: readonly string[]): Promise<Map<string, string>> {
  // One constant statement over an array parameter: the same text for 1 id or 500, where
  // drizzle's select builder and IN list cost more CPU than the query on the settle path.
  const result = await db.execute(
    sql`select request_id, payload from reservations where request_id = any(${new Param([...ids])}::text[])`,
  );
  const rows = rowsOf<{ request_id: string; payload: string }>(result);
  return new Map(rows.map((r) => [r.request_id, r.payload]));
}

/** Whether a reservation of the request was written behind /reserve (and not yet ledgered). */
export async function isRecorded(db: Db, requestId: string): Promise<boolean> {
  const [row] = await db
    .select({ requestId: reservations.requestId })
    .from(reservations)
    .where(eq(reservations.requestId, requestId));
  return row !== undefined;
}

/**
 * Reservations admitted since `from` that counted a request in the bucket (display key) and
 * that the ledger does not hold. A row can outlive the settle that closed it: the write-behind's
 * insert and the settle's statement may each run before the other commits (neither sees the
 * other's row), and a rebuild that reads the ledger from rollups could not tell the two apart.
 * The newest `newest` only: an exact request log keeps no more.
 */
export async function reservedRequests(
  db: Executor,
  bucketId: string,
  from: number,
  newest: number,
): Promise<{ requestId: string; at: Date }[]> {
  return db
    .select({ requestId: reservations.requestId, at: reservations.reservedAt })
    .from(reservations)
    .where(notLedgered(bucketId, from))
    .orderBy(desc(reservations.reservedAt))
    .limit(newest);
}

/**
 * The same reservations counted per slice of `sliceMs` from the epoch (one count when null),
 * each count at its slice's newest admission: a bounded read however many are open or lapsed.
 */
export async function reservedCounts(
  db: Executor,
  bucketId: string,
  from: number,
  sliceMs: number | null,
): Promise<{ at: number; count: number }[]> {
  const query = db
    .select({ at: sql<Date | null>`max(${reservations.reservedAt})`, count: sql<number>`count(*)::int` })
    .from(reservations)
    .where(notLedgered(bucketId, from));
  // Without groups the aggregate answers one row, a count of 0 when there is nothing.
  const rows =
    sliceMs === null
      ? await query
      : await query.groupBy(sql`floor(extract(epoch from ${reservations.reservedAt}) * 1000 / ${sliceMs})`);
  return rows.flatMap((r) =>
    r.at === null || r.count === 0 ? [] : [{ at: new Date(r.at).getTime(), count: r.count }],
  );
}

const notLedgered = (bucketId: string, from: number) =>
  and(
    sql`${reservations.buckets} @> ${JSON.stringify([bucketId])}::jsonb`,
    gte(reservations.reservedAt, new Date(from)),
    sql`not exists (select 1 from usage_ledger l where l.request_id = ${reservations.requestId})`,
  );

/** A condition: some reservation row counted a request in the bucket, at any time. */
export const mentionsBucket = (bucketId: string): SQL =>
  sql`exists (select 1 from reservations where buckets @> ${JSON.stringify([bucketId])}::jsonb)`;
