import { sql, type SQL } from 'drizzle-orm';
import { rowsOf, type Executor } from '../db/client.js';
import { usageLedger } from '../db/schema.js';
import { bucketOwner } from '../domain/bucket-key.js';

/**
 * The ledger rows of one bucket. Its owner's column first: the (user_id | key_id, settled_at)
 * index then bounds a read by time, where the GIN index on `buckets` alone returns every row
 * the bucket ever had (a heavy user's rebuild grew with its history).
 */
export function containsBucket(id: string): SQL {
  const owner = bucketOwner(id);
  if (!owner) return sql`${usageLedger.buckets} @> ${JSON.stringify([id])}::jsonb`;
  const column = owner.axis === 'user' ? usageLedger.userId : usageLedger.keyId;
  // `?`, not `@>`: the GIN index (jsonb_path_ops) cannot serve it, so the planner cannot
  // pick it and build a bitmap of the bucket's whole history.
  return sql`${column} = ${owner.ownerId} and ${usageLedger.buckets} ? ${id}`;
}

/**
 * `reserved_at` precedes `settled_at` but for clock skew between instances: a bound on
 * `settled_at` this much earlier than the one on coalesce(reserved_at, settled_at) lets the
 * index bound a request count's read without trusting clocks.
 */
const COUNTED_AT_SLACK_MS = 86_400_000;

/** When a ledger row's request counts: its reserve, else (a direct settle) its settle. A new SQL each call (mapWith sets its decoder in place). */
export const countedAt = () => sql<Date>`coalesce(${usageLedger.reservedAt}, ${usageLedger.settledAt})`;

/** Rows a request count takes from `from` on. */
export function countedSince(from: number): SQL {
  const since = new Date(from).toISOString();
  const slack = new Date(from - COUNTED_AT_SLACK_MS).toISOString();
  return sql`${usageLedger.settledAt} >= ${slack}::timestamptz and ${countedAt()} >= ${since}::timestamptz`;
}

/** Which ledger amount a bucket's metric counts: a request count, µ$, or tokens. */
export type CountedMetric = 'requests' | 'cost' | 'input_tokens' | 'output_tokens' | 'tokens';

const CHARGED: Record<Exclude<CountedMetric, 'requests'>, SQL> = {
  cost: sql`${usageLedger.costMicros}`,
  input_tokens: sql`${usageLedger.inputTokens}`,
  output_tokens: sql`${usageLedger.outputTokens}`,
  tokens: sql`${usageLedger.inputTokens} + ${usageLedger.outputTokens}`,
};

/** When a row counts for the metric (its reserve or settle), its amount, and which rows count at all. */
function counting(metric: CountedMetric, from: number) {
  if (metric === 'requests') return { at: countedAt(), amount: sql`1`, rows: countedSince(from) };
  const since = new Date(from).toISOString();
  return {
    at: sql`${usageLedger.settledAt}`,
    amount: CHARGED[metric],
    rows: sql`${usageLedger.status} = 'settled' and ${usageLedger.settledAt} >= ${since}::timestamptz`,
  };
}

/**
 * The raw rows of a bucket in [from, to) (no end when null), summed in SQL per epoch-aligned
 * `grainMs` cell (one sum at `from` when null): at most one row per cell comes back, however
 * many settles the range holds. `excluded` (a request id) is left out.
 */
export async function rawCells(
  db: Executor,
  id: string,
  metric: CountedMetric,
  range: { from: number; to: number | null },
  grainMs: number | null,
  excluded: string | null,
): Promise<{ at: number; amount: number }[]> {
  const c = counting(metric, range.from);
  const cell =
    grainMs === null
      ? sql`${range.from}::bigint`
      : sql`(floor(extract(epoch from ${c.at}) * 1000 / ${grainMs}) * ${grainMs})::bigint`;
  const until =
    range.to === null ? sql`true` : sql`${c.at} < ${new Date(range.to).toISOString()}::timestamptz`;
  const others = excluded === null ? sql`true` : sql`${usageLedger.requestId} <> ${excluded}`;
  const result = await db.execute(sql`
    select ${cell} as at, sum(${c.amount})::bigint as amount from ${usageLedger}
    where ${containsBucket(id)} and ${c.rows} and ${until} and ${others}
    group by 1`);
  return rowsOf<{ at: string; amount: string }>(result)
    .map((r) => ({ at: Number(r.at), amount: Number(r.amount) }))
    .filter((r) => r.amount !== 0);
}

/** What the ledger row of `requestId` counts in the bucket (none when it does not count there). */
export async function rowAmount(
  db: Executor,
  id: string,
  metric: CountedMetric,
  requestId: string,
): Promise<{ at: number; amount: number } | null> {
  const c = counting(metric, 0);
  const result = await db.execute(sql`
    select (extract(epoch from ${c.at}) * 1000)::bigint as at, (${c.amount})::bigint as amount
    from ${usageLedger} join ledger_request_ids g
      on g.request_id = ${usageLedger.requestId} and g.recorded_at = ${usageLedger.recordedAt}
    where g.request_id = ${requestId} and ${usageLedger.buckets} ? ${id} and ${c.rows}`);
  const [row] = rowsOf<{ at: string; amount: string }>(result);
  return row ? { at: Number(row.at), amount: Number(row.amount) } : null;
}
