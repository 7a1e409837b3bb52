import { sql, type SQL } from 'drizzle-orm';
import { rowsOf, type Executor } from '../db/client.js';
import { coverRange, SLICE_MS, type SliceLevel } from './rollup-slices.js';

/** Which rollup column a bucket's metric sums (`tokens` = input + output). */
export type RolledMetric = 'requests' | 'cost' | 'input_tokens' | 'output_tokens' | 'tokens';

export interface RolledUsage {
  requestId: string;
  at: number;
  amount: number;
  /** The instants the rollup row sums, [from, to): a settle left out of a seed is taken from the one holding it. */
  cell: { from: number; to: number };
}

const AMOUNT: Record<RolledMetric, SQL> = {
  requests: sql`requests`,
  cost: sql`cost_micros`,
  input_tokens: sql`input_tokens`,
  output_tokens: sql`output_tokens`,
  tokens: sql`input_tokens + output_tokens`,
};

type RollupRow = { level: SliceLevel; start: string; amount: string };

/** Rollup rows as usage placed at their slice's last millisecond (`place` may move it inside the slice). */
function usageOf(rows: RollupRow[], place = (start: number, last: number) => last): RolledUsage[] {
  return rows
    .map((r) => ({ start: Number(r.start), amount: Number(r.amount), level: r.level }))
    .filter((r) => r.amount !== 0)
    .map((r) => {
      const cell = { from: r.start, to: r.start + SLICE_MS[r.level] };
      const at = place(cell.from, cell.to - 1);
      return { requestId: `rollup:${r.level}:${r.start}`, at, amount: r.amount, cell };
    });
}

/**
 * The part [from, rawAfter) of a bucket's usage from ledger_rollups (from > 0): one entry per
 * rollup row read, placed at the slice's last millisecond so it is counted whole and leaves
 * the window no earlier than any row it sums (never under-counts). The caller reads what
 * lies from `rawFrom` on.
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
  return { usage: usageOf(rowsOf<RollupRow>(result)), rawFrom: cover.rawFrom };
}

/**
 * The minute rows from `from` (minute-aligned) on, with no end: the current minute, and any
 * a clock ahead of ours wrote. However many settles they sum, a rebuild reads one row per
 * minute. `place` puts each inside its minute (a window that ends mid-minute needs it before the end).
 */
export async function rolledMinutesFrom(
  db: Executor,
  bucket: string,
  metric: RolledMetric,
  from: number,
  place: (start: number, last: number) => number,
): Promise<RolledUsage[]> {
  const result = await db.execute(sql`
    select 'minute' as level, (extract(epoch from slice_start) * 1000)::bigint as start, ${AMOUNT[metric]} as amount
    from ledger_rollups where bucket = ${bucket} and level = 'minute'
      and slice_start >= ${new Date(from).toISOString()}::timestamptz`);
  return usageOf(rowsOf<RollupRow>(result), place);
}

/** The bucket's all-time row (a `total` window with no reset marker), at `at`: every settle ever, in one row. */
export async function allTimeUsage(
  db: Executor,
  bucket: string,
  metric: RolledMetric,
  at: number,
): Promise<RolledUsage[]> {
  const result = await db.execute(sql`
    select ${AMOUNT[metric]} as amount from ledger_rollups
    where bucket = ${bucket} and level = 'all' and slice_start = timestamptz 'epoch'`);
  const amount = Number(rowsOf<{ amount: string }>(result)[0]?.amount ?? 0);
  const cell = { from: Number.NEGATIVE_INFINITY, to: Number.POSITIVE_INFINITY };
  return amount === 0 ? [] : [{ requestId: 'rollup:all', at, amount, cell }];
}
