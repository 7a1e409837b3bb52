import { sql, type SQL } from 'drizzle-orm';
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
