import { inArray, Param, sql } from 'drizzle-orm';
import { rowsOf, type Executor } from '../db/client.js';
import { dirtySubjects, usageLedger } from '../db/schema.js';

/** One settle or release as the ledger records it (money in µ$). */
export interface LedgerEntry {
  requestId: string;
  userId: string;
  keyId: string | null;
  model: string;
  modelGroupId: number | null;
  costMicros: number;
  inputTokens: number;
  outputTokens: number;
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
  inputTokens: number;
  outputTokens: number;
  status: 'settled' | 'released';
  reservedAt: Date | null;
  settledAt: Date;
  countedInUserGlobal: boolean;
  countedInKeyGlobal: boolean;
  buckets: string[];
}

/**
 * Inserts entries; a settle on a released row turns it settled with the settle's buckets
 * and cost split (a settle after a release charges exactly what a settle before it would,
 * SPEC §4.5). Returns the request ids this call wrote.
 */
export async function insertEntries(tx: Executor, entries: LedgerEntry[]): Promise<Set<string>> {
  const first = await writeRows(tx, entries);
  // A settle that met a row committed after its statement began could not see that row: a
  // second statement (a new snapshot under READ COMMITTED) can.
  const again =
    first.raced.size > 0
      ? await writeRows(
          tx,
          entries.filter((e) => first.raced.has(e.requestId)),
        )
      : null;
  const written = new Set([...first.written, ...(again?.written ?? [])]);
  const ids = new Param(entries.map((e) => e.requestId));
  // The ledger now counts these requests: their reservation rows have done their job.
  await tx.execute(sql`delete from reservations where request_id = any(${ids}::text[])`);
  // Sorted: concurrent batches then lock the marks in one order (no deadlock).
  const dirty = [...new Set(entries.filter((e) => e.markDirty).map((e) => e.userId))].sort();
  if (dirty.length > 0) {
    await tx
      .insert(dirtySubjects)
      .values(dirty.map((subject) => ({ subject })))
      .onConflictDoUpdate({ target: dirtySubjects.subject, set: { markedAt: sql`now()` } });
  }
  return written;
}

/**
 * One statement. The gate is ledger_request_ids (the ledger is partitioned, so request-id
 * uniqueness cannot live on it, migrations/0006): a new id gets a row, recorded at its
 * settle instant; an existing id whose row is released takes a settle as an UPDATE of that
 * row, found by the gate's recorded_at (one partition); anything else is a duplicate and
 * writes nothing (ids unique within a call: SettleBatcher.writeBatch). `raced`: settles whose id a concurrent transaction committed after this
 * statement's snapshot, so a released row of theirs was invisible here.
 */
async function writeRows(
  tx: Executor,
  entries: LedgerEntry[],
): Promise<{ written: Set<string>; raced: Set<string> }> {
  // One constant statement over column arrays: building it costs the same for 1 row or 500
  // (drizzle's row-by-row VALUES builder was a fifth of a settle's CPU).
  const column = <T>(pick: (e: LedgerEntry) => T) => new Param(entries.map(pick));
  const json = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));
  // The rollups (src/db/schema.ts ledgerRollups) take exactly the rows this statement wrote
  // (RETURNING), so a duplicate settle never counts twice; a released row turned settled
  // gives back the request it counted before. Keys sorted: concurrent batches lock gate
  // and rollup rows in one order.
  const result = await tx.execute(sql`
    with entry as (
      select * from unnest(
        ${column((e) => e.requestId)}::text[], ${column((e) => e.userId)}::text[],
        ${column((e) => e.keyId)}::text[], ${column((e) => e.model)}::text[],
        ${column((e) => e.modelGroupId)}::int[], ${column((e) => e.costMicros)}::bigint[],
        ${column((e) => e.inputTokens)}::bigint[], ${column((e) => e.outputTokens)}::bigint[],
        ${column((e) => e.countedInUserGlobal)}::bool[], ${column((e) => e.countedInKeyGlobal)}::bool[],
        ${column((e) => JSON.stringify(e.buckets))}::jsonb[], ${column((e) => e.status)}::text[],
        ${column((e) => e.reservedAt?.toISOString() ?? null)}::timestamptz[],
        ${column((e) => e.settledAt.toISOString())}::timestamptz[], ${column((e) => json(e.metadata))}::jsonb[])
      as e(request_id, user_id, key_id, model, model_group_id, cost_micros, input_tokens, output_tokens,
        counted_in_user_global, counted_in_key_global, buckets, status, reserved_at, settled_at, metadata)
    ), gate as (
      insert into ledger_request_ids (request_id, recorded_at)
      select request_id, settled_at from entry order by request_id
      on conflict do nothing
      returning request_id, recorded_at
    ), prior as (
      select u.request_id, u.recorded_at, u.buckets, coalesce(u.reserved_at, u.settled_at) as at
      from entry e join ledger_request_ids g using (request_id)
        join usage_ledger u on u.request_id = g.request_id and u.recorded_at = g.recorded_at
      where e.status = 'settled' and u.status = 'released'
    ), added as (
      insert into usage_ledger (request_id, user_id, key_id, model, model_group_id, cost_micros,
        input_tokens, output_tokens, counted_in_user_global, counted_in_key_global, buckets, status,
        reserved_at, settled_at, metadata, recorded_at)
      select e.*, g.recorded_at from entry e join gate g using (request_id)
      returning request_id, buckets, status, coalesce(reserved_at, settled_at) as counted_at, settled_at,
        cost_micros, input_tokens, output_tokens
    ), turned as (
      update usage_ledger u set cost_micros = e.cost_micros, status = e.status,
        input_tokens = e.input_tokens, output_tokens = e.output_tokens,
        settled_at = e.settled_at, metadata = e.metadata, buckets = e.buckets,
        counted_in_user_global = e.counted_in_user_global,
        counted_in_key_global = e.counted_in_key_global
      from entry e join prior p using (request_id)
      where u.request_id = p.request_id and u.recorded_at = p.recorded_at and u.status = 'released'
      returning u.request_id, u.buckets, u.status, coalesce(u.reserved_at, u.settled_at) as counted_at,
        u.settled_at, u.cost_micros, u.input_tokens, u.output_tokens
    ), ins as (
      select * from added union all select * from turned
    ), charged as (
      select b.bucket, i.* from ins i,
        lateral (select distinct value from jsonb_array_elements_text(i.buckets)) b(bucket)
    ), deltas as (
      select bucket, counted_at as at, 1 as requests, 0::bigint as cost, 0::bigint as input,
        0::bigint as output
      from charged
      union all
      select bucket, settled_at, 0, cost_micros, input_tokens, output_tokens
      from charged where status = 'settled'
      union all
      select b.bucket, p.at, -1, 0, 0, 0
      from prior p join ins i using (request_id),
        lateral (select distinct value from jsonb_array_elements_text(p.buckets)) b(bucket)
    ), rolled as (
      insert into ledger_rollups (bucket, level, slice_start, requests, cost_micros, input_tokens, output_tokens)
      select d.bucket, l.level,
        case when l.level = 'all' then timestamptz 'epoch' else date_bin(l.step, d.at, timestamptz 'epoch') end,
        sum(d.requests), sum(d.cost), sum(d.input), sum(d.output)
      from deltas d cross join (values ('minute', interval '1 minute'), ('hour', interval '1 hour'),
        ('day', interval '1 day'), ('all', interval '1 day')) l(level, step)
      group by 1, 2, 3 order by 1, 2, 3
      on conflict (bucket, level, slice_start) do update set
        requests = ledger_rollups.requests + excluded.requests,
        cost_micros = ledger_rollups.cost_micros + excluded.cost_micros,
        input_tokens = ledger_rollups.input_tokens + excluded.input_tokens,
        output_tokens = ledger_rollups.output_tokens + excluded.output_tokens
    )
    select request_id, false as raced from ins
    union all
    select e.request_id, true from entry e
    where e.status = 'settled' and not exists (select 1 from gate g where g.request_id = e.request_id)
      and not exists (select 1 from ledger_request_ids g where g.request_id = e.request_id)`);
  const rows = rowsOf<{ request_id: string; raced: boolean }>(result);
  return {
    written: new Set(rows.filter((r) => !r.raced).map((r) => r.request_id)),
    raced: new Set(rows.filter((r) => r.raced).map((r) => r.request_id)),
  };
}

export async function findRows(tx: Executor, requestIds: string[]): Promise<Map<string, StoredLedgerRow>> {
  if (requestIds.length === 0) return new Map();
  const rows = await tx
    .select({
      requestId: usageLedger.requestId,
      costMicros: usageLedger.costMicros,
      inputTokens: usageLedger.inputTokens,
      outputTokens: usageLedger.outputTokens,
      status: usageLedger.status,
      reservedAt: usageLedger.reservedAt,
      settledAt: usageLedger.settledAt,
      countedInUserGlobal: usageLedger.countedInUserGlobal,
      countedInKeyGlobal: usageLedger.countedInKeyGlobal,
      buckets: usageLedger.buckets,
    })
    .from(usageLedger)
    .where(inArray(usageLedger.requestId, requestIds));
  return new Map(rows.map((r) => [r.requestId, { ...r, status: r.status as StoredLedgerRow['status'] }]));
}

/**
 * The batch's promise to apply its settles to the counter store (apply_intents); due
 * `dueMs` after the commit, when a sweep takes it for an apply that never finished.
 */
export async function insertApplyIntent(tx: Executor, subjects: string[], dueMs: number): Promise<number> {
  const result = await tx.execute(sql`
    insert into apply_intents (subjects, due_at)
    values (${JSON.stringify([...new Set(subjects)])}::jsonb, now() + ${dueMs} * interval '1 millisecond')
    returning id`);
  const [row] = rowsOf<{ id: string | number }>(result);
  if (!row) throw new Error('apply intent not recorded');
  return Number(row.id);
}
