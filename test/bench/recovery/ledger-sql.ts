import { readFileSync } from 'node:fs';
import type pg from 'pg';

/**
 * The generated history, all in SQL: ledger rows (through the request-id gate of
 * migrations/0006, in their months' partitions) and their rollups, computed by the very
 * backfill statement of migrations/0005, so they are what the settle path would have written.
 */
export interface LedgerShape {
  users: number;
  heavy: number;
  heavyRows: number;
  model: string;
  modelGroupId: number;
  /** The `buckets` of a real settle by `template` (user id): every row names its user's. */
  templateBuckets: string[];
  templateUser: string;
}

export const userIdOf = (i: number) => `u-${i}`;
/** History spans this many days before now; rows are spread uniformly over it. */
const HISTORY_DAYS = 90;

/** Migration 0005's own rollup backfill statement: the rollups exactly as it builds them. */
export function rollupBackfill(): string {
  const text = readFileSync(new URL('../../../migrations/0005_ledger_rollups.sql', import.meta.url), 'utf8');
  const statement = text
    .split('--> statement-breakpoint')
    .find((s) => s.includes('INSERT INTO "ledger_rollups"'));
  if (!statement) throw new Error('migrations/0005: rollup backfill statement not found');
  return statement;
}

/**
 * Rows [from, to): the first heavy × heavyRows go round-robin to the heavy users, the rest
 * round-robin to the light ones. Costs 1000–5999 µ$; settled at a seeded-random instant.
 */
export async function generateRows(
  client: pg.Client,
  shape: LedgerShape,
  from: number,
  to: number,
): Promise<void> {
  const heavyTotal = shape.heavy * shape.heavyRows;
  await client.query(`select setseed(${(from % 1000) / 1000})`);
  for (let m = 0; m <= Math.ceil(HISTORY_DAYS / 28) + 1; m++)
    await client.query(`select quotagate_ledger_partition(now() - make_interval(months => $1))`, [m]);
  await client.query(
    `insert into usage_ledger (request_id, user_id, key_id, model, model_group_id, cost_micros, input_tokens,
       output_tokens, counted_in_user_global, counted_in_key_global, buckets, status, reserved_at, settled_at,
       metadata, recorded_at)
     select 'gen-' || n, 'u-' || u, null, $5, $6, 1000 + n % 5000, 0, 0, false, false,
       replace($7, $8, 'u-' || u || '|')::jsonb, 'settled', t - interval '2 seconds', t, null, t
     from (
       select n, case when n < $3 then n % $2 else $2 + (n - $3) % ($4 - $2) end as u,
         now() - random() * interval '${HISTORY_DAYS} days' as t
       from generate_series($1::bigint, $9::bigint - 1) n
     ) g`,
    [
      from,
      shape.heavy,
      heavyTotal,
      shape.users,
      shape.model,
      shape.modelGroupId,
      JSON.stringify(shape.templateBuckets),
      `${shape.templateUser}|`,
      to,
    ],
  );
  await client.query(
    `insert into ledger_request_ids (request_id, recorded_at)
     select request_id, recorded_at from usage_ledger where request_id like 'gen-%'
     on conflict do nothing`,
  );
}

/**
 * Rollups from scratch (the backfill adds, so it starts from an empty table), then VACUUM
 * ANALYZE: what autovacuum does after a burst of inserts on a live ledger. Without it the
 * visibility map of a freshly loaded table is empty, and every index-only read of old
 * slices would fetch heap pages a running system never fetches.
 */
export async function rebuildRollups(client: pg.Client): Promise<void> {
  await client.query('truncate ledger_rollups');
  await client.query(rollupBackfill());
  await client.query('vacuum analyze');
}

/** What a user's ledger holds: the lifetime cost (µ$, settled rows) and requests (every row). */
export async function ledgerTotalsOf(
  client: pg.Client,
  userId: string,
): Promise<{ costMicros: number; requests: number }> {
  const { rows } = await client.query<{ cost: string; requests: string }>(
    `select coalesce(sum(cost_micros) filter (where status = 'settled'), 0) as cost, count(*) as requests
     from usage_ledger where user_id = $1`,
    [userId],
  );
  return { costMicros: Number(rows[0]?.cost ?? 0), requests: Number(rows[0]?.requests ?? 0) };
}
