import { CLOSE_LEDGERED } from '../reservations/rows.js';
import type { LedgerEntry } from './ledger-rows.js';
import { rollupLevels, type RollupLevel } from './rollup-slices.js';

/**
 * The text of the ledger write, in positional parameters so one text serves both ways it
 * runs: inside a caller's transaction (insertEntries, via drizzle) and as the whole batch in
 * one prepared statement (SettleBatcher). $1–$15 are the entries' columns, $16 their
 * dirty-mark flags, $17 the rollup levels of their buckets (rollupLevels; a bucket missing
 * from it gets every level), $18 the window length of their first-use buckets (by key),
 * $19 the apply intent's due delay in ms.
 *
 * The gate is ledger_request_ids (the ledger is partitioned, so request-id uniqueness
 * cannot live on it, migrations/0006): a new id gets a row, recorded at its settle instant;
 * an existing id whose row is released takes a settle as an UPDATE of that row, found by
 * the gate's recorded_at (one partition); anything else is a duplicate and writes nothing
 * (ids unique within a call: SettleBatcher.writeBatch). The rollups (src/db/schema.ts
 * ledgerRollups) take exactly the rows this statement wrote (RETURNING), so a duplicate
 * settle never counts twice; a released row turned settled gives back the request it
 * counted before. Keys sorted: concurrent batches lock gate and rollup rows in one order.
 */
const WRITE = `
    with entry as (
      select * from unnest(
        $1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[], $7::bigint[],
        $8::bigint[], $9::bool[], $10::bool[], $11::jsonb[], $12::text[], $13::timestamptz[],
        $14::timestamptz[], $15::jsonb[], $16::bool[])
      as e(request_id, user_id, key_id, model, model_group_id, cost_micros, input_tokens, output_tokens,
        counted_in_user_global, counted_in_key_global, buckets, status, reserved_at, settled_at, metadata,
        mark_dirty)
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
      select e.request_id, e.user_id, e.key_id, e.model, e.model_group_id, e.cost_micros, e.input_tokens,
        e.output_tokens, e.counted_in_user_global, e.counted_in_key_global, e.buckets, e.status,
        e.reserved_at, e.settled_at, e.metadata, g.recorded_at
      from entry e join gate g using (request_id)
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
      from deltas d,
        lateral jsonb_array_elements_text(coalesce($17::jsonb -> d.bucket, '["minute", "hour", "day", "all"]'))
          lv(name)
        join (values ('minute', interval '1 minute'), ('hour', interval '1 hour'), ('day', interval '1 day'),
          ('all', interval '1 day')) l(level, step) on l.level = lv.name
      group by 1, 2, 3 order by 1, 2, 3
      on conflict (bucket, level, slice_start) do update set
        requests = ledger_rollups.requests + excluded.requests,
        cost_micros = ledger_rollups.cost_micros + excluded.cost_micros,
        input_tokens = ledger_rollups.input_tokens + excluded.input_tokens,
        output_tokens = ledger_rollups.output_tokens + excluded.output_tokens
    ), opened as (
      -- SPEC §4.1: a request opens a first-use window where none is open: at its reserve (or
      -- direct settle), and its spend again if it settles after that window ended. Such an
      -- instant no recorded start covers is a candidate start, so a rebuild counts it in a
      -- window even if the store never saw it (an outage, an instance dead before its apply);
      -- domain/first-use.ts skips candidates inside an earlier window. One row per window
      -- once the reserve's own start is written behind (both instants before that). This
      -- restates firstUseCandidates (domain/first-use.ts) and the metric of parseBucketKey
      -- (domain/bucket-key.ts); test/ledger/first-use-sql.test.ts holds it to both.
      insert into first_use_windows (bucket_key, started_at, length_ms)
      select distinct c.bucket, t.at, f.len
      from charged c,
        lateral (select split_part(c.bucket, '|', 3) as metric, ($18::jsonb ->> c.bucket)::bigint as len) f,
        lateral (values (c.counted_at), (case when f.metric <> 'requests' then c.settled_at end)) t(at)
      where c.status = 'settled' and t.at is not null and f.len is not null
        and case f.metric
          when 'cost' then c.cost_micros when 'input_tokens' then c.input_tokens
          when 'output_tokens' then c.output_tokens when 'tokens' then c.input_tokens + c.output_tokens
          when 'requests' then 1 else 0 end > 0
        and not exists (
          select 1 from first_use_windows w where w.bucket_key = c.bucket and w.started_at <= t.at
            and w.started_at > t.at - f.len * interval '1 millisecond')
      order by 1, 2
      on conflict do nothing
    ), closed as (
      -- The ledger now counts these requests: their reservation rows have done their job.
      ${CLOSE_LEDGERED}
    ), dirty as (
      -- Sorted: concurrent batches then lock the marks in one order (no deadlock). A new
      -- marking of a marked subject is a new value, so no sweep clears it (dirty-marks.ts).
      insert into dirty_subjects (subject)
      select distinct user_id from entry where mark_dirty order by 1
      on conflict (subject) do update set marked_at = clock_timestamp()
    ), raced as (
      -- Ids a concurrent transaction committed after this statement's snapshot: their row
      -- (a released one a settle must turn, or the one a duplicate is answered with) was
      -- invisible here, so a new statement must take them.
      select e.request_id from entry e
      where not exists (select 1 from gate g where g.request_id = e.request_id)
        and not exists (select 1 from ledger_request_ids g where g.request_id = e.request_id)
    )`;

/**
 * The rows the ledger holds for request ids (the caller appends the condition on
 * `g.request_id`): `exists` with the stored row, or `archived` when only the gate still knows
 * the id — its month was detached — with the instant it was recorded.
 */
const RECORDED = `select case when u.request_id is null then 'archived' else 'exists' end as kind,
      g.request_id, u.cost_micros, u.input_tokens, u.output_tokens, u.status, u.reserved_at,
      coalesce(u.settled_at, g.recorded_at) as settled_at, u.counted_in_user_global,
      u.counted_in_key_global, u.buckets
    from ledger_request_ids g
      left join usage_ledger u on u.request_id = g.request_id and u.recorded_at = g.recorded_at
    where`;

/** RECORDED for the ids in $1. */
export const RECORDED_ROWS = `${RECORDED} g.request_id = any($1::text[])`;

/**
 * insertEntries' statement: which ids it wrote and which raced (the caller writes the rest),
 * and the writing transaction's top-level xid8 (the same inside a savepoint), which a seed's
 * watermark is tested against (SeedWatermark).
 */
export const WRITE_ROWS = `${WRITE}
    select request_id, false as raced, pg_current_xact_id()::text as xid from ins
    union all
    select request_id, true, null from raced`;

/**
 * A whole ledger batch as one statement, so one round trip and no BEGIN/COMMIT: WRITE (the
 * rows, their rollups, the reservations they close, the dirty marks asked for) and the apply
 * intent of its settles (all or nothing, as one statement is). Answers one row per written id
 * (`written`), raced id (`raced`) and already recorded id (RECORDED: `exists` or
 * `archived`), the intent (`intent`, its id in request_id) when the batch has settles to
 * promise, and the transaction's xid8 (`xid`, in request_id) when it wrote a row: a settle's
 * apply carries it, so a seed whose snapshot saw this commit is not charged again.
 */
export const WRITE_BATCH = `${WRITE}, intent as (
      insert into apply_intents (subjects, due_at)
      select jsonb_agg(distinct user_id), now() + $19::bigint * interval '1 millisecond'
      from entry where status = 'settled' and not mark_dirty
      having count(*) > 0
      returning id
    )
    select 'written' as kind, request_id, null::bigint as cost_micros, null::bigint as input_tokens,
      null::bigint as output_tokens, null::text as status, null::timestamptz as reserved_at,
      null::timestamptz as settled_at, null::bool as counted_in_user_global,
      null::bool as counted_in_key_global, null::jsonb as buckets
    from ins
    union all
    select 'raced', request_id, null, null, null, null, null, null, null, null, null from raced
    union all
    ${RECORDED} g.request_id in (select request_id from entry)
      and not exists (select 1 from ins i where i.request_id = g.request_id)
    union all
    select 'intent', id::text, null, null, null, null, null, null, null, null, null from intent
    union all
    select 'xid', pg_current_xact_id()::text, null, null, null, null, null, null, null, null, null
    where exists (select 1 from ins)`;

const json = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));

/** $1–$18 of WRITE_ROWS and WRITE_BATCH: one array per column, the same text for 1 entry or 500. */
export function entryColumns(entries: LedgerEntry[]): unknown[] {
  const levels: Record<string, RollupLevel[]> = {};
  for (const e of entries) for (const b of e.buckets) levels[b] ??= rollupLevels(b);
  const column = <T>(pick: (e: LedgerEntry) => T) => entries.map(pick);
  return [
    column((e) => e.requestId),
    column((e) => e.userId),
    column((e) => e.keyId),
    column((e) => e.model),
    column((e) => e.modelGroupId),
    column((e) => e.costMicros),
    column((e) => e.inputTokens),
    column((e) => e.outputTokens),
    column((e) => e.countedInUserGlobal),
    column((e) => e.countedInKeyGlobal),
    column((e) => JSON.stringify(e.buckets)),
    column((e) => e.status),
    column((e) => e.reservedAt?.toISOString() ?? null),
    column((e) => e.settledAt.toISOString()),
    column((e) => json(e.metadata)),
    column((e) => e.markDirty),
    JSON.stringify(levels),
    JSON.stringify(Object.assign({}, ...entries.map((e) => e.firstUseMs ?? {}))),
  ];
}
