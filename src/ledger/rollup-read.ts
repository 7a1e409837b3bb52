import { sql, type SQL } from 'drizzle-orm';
import { rowsOf, type Executor } from '../db/client.js';
import { containsBucket, countedSince } from './bucket-rows.js';
import { coverRange, SLICE_MS, type SliceLevel } from './rollup-slices.js';

/** Which rollup column a bucket's metric sums (`tokens` = input + output). */
export type RolledMetric = 'requests' | 'cost' | 'input_tokens' | 'output_tokens' | 'tokens';

export interface RolledUsage {
  requestId: string;
  at: number;
  amount: number;
}

const AMOUNT: Record<RolledMetric, SQL> = {
  requests: sql`requests`,
  cost: sql`cost_micros`,
  input_tokens: sql`input_tokens`,
  output_tokens: sql`output_tokens`,
  tokens: sql`input_tokens + output_tokens`,
};

/**
 * The old part [from, rawFrom) of a bucket's usage from ledger_rollups: one entry per
 * rollup row read, placed at the slice's last millisecond so it is counted whole and leaves
 * the window no earlier than any row it sums (never under-counts). The caller reads raw
 * rows from `rawFrom` on. A range from the epoch (a `total` window) reads the all-time row
 * less the raw part, in one statement so both see one snapshot.
 */
export async function rolledUsage(
  db: Executor,
  bucket: string,
  metric: RolledMetric,
  from: number,
  rawAfter: number,
  maxLevel: SliceLevel,
): Promise<{ usage: RolledUsage[]; rawFrom: number }> {
  const cover = coverRange(from, rawAfter, maxLevel);
  if (from <= 0) return { usage: await allTime(db, bucket, metric, cover.rawFrom), rawFrom: cover.rawFrom };
  if (cover.slices.length === 0) return { usage: [], rawFrom: cover.rawFrom };
  // One index range scan per slice run: under one OR the planner scanned every rollup row
  // of the bucket (a heavy user's minute rows), which grew with its history.
  const ranges = cover.slices.map(
    (
      s,
    ) => sql`select level, (extract(epoch from slice_start) * 1000)::bigint as start, ${AMOUNT[metric]} as amount
      from ledger_rollups where bucket = ${bucket} and level = ${s.level}
        and slice_start >= ${new Date(s.from).toISOString()}::timestamptz
        and slice_start < ${new Date(s.to).toISOString()}::timestamptz`,
  );
  const result = await db.execute(sql.join(ranges, sql` union all `));
  const rows = rowsOf<{ level: SliceLevel; start: string; amount: string }>(result);
  const usage = rows
    .map((r) => ({ at: Number(r.start) + SLICE_MS[r.level] - 1, amount: Number(r.amount), level: r.level }))
    .filter((r) => r.amount > 0)
    .map((r) => ({ requestId: `rollup:${r.level}:${r.at}`, at: r.at, amount: r.amount }));
  return { usage, rawFrom: cover.rawFrom };
}

async function allTime(
  db: Executor,
  bucket: string,
  metric: RolledMetric,
  rawFrom: number,
): Promise<RolledUsage[]> {
  const since = new Date(rawFrom).toISOString();
  const raw =
    metric === 'requests'
      ? sql`select count(*) from usage_ledger where ${containsBucket(bucket)} and ${countedSince(rawFrom)}`
      : sql`select coalesce(sum(${AMOUNT[metric]}), 0) from usage_ledger
          where ${containsBucket(bucket)} and status = 'settled' and settled_at >= ${since}::timestamptz`;
  const result = await db.execute(sql`
    select coalesce((select ${AMOUNT[metric]} from ledger_rollups
      where bucket = ${bucket} and level = 'all' and slice_start = timestamptz 'epoch'), 0) - (${raw}) as amount`);
  const amount = Number(rowsOf<{ amount: string }>(result)[0]?.amount ?? 0);
  // Before the raw part: counted in a total window whatever its instant.
  return amount > 0 ? [{ requestId: 'rollup:all', at: rawFrom - 1, amount }] : [];
}
