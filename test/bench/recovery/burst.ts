import type pg from 'pg';
import { rollupBackfill, type LedgerShape } from './ledger-sql.js';

/**
 * The "burst" profile: users whose whole history is recent — every row inside the last hour,
 * `inLastMinute` of them (a share, 0–1) inside the last minute — so every row sits in the
 * current slice of every window and in the late-apply window (15 min) a rebuild once read
 * raw, one row at a time.
 */
export interface BurstShape {
  userIds: string[];
  /** Rows per burst user. */
  rows: number;
  inLastMinute: number;
}

/** Migration 0005's backfill, limited to the burst rows and adding to the rollups already there. */
function burstRollups(): string {
  const statement = rollupBackfill();
  const scoped = statement.replaceAll(
    'FROM "usage_ledger" u',
    `FROM (select * from usage_ledger where request_id like 'burst-%') u`,
  );
  return `${scoped.trim().replace(/;$/, '')}
    ON CONFLICT (bucket, level, slice_start) DO UPDATE SET
      requests = ledger_rollups.requests + excluded.requests,
      cost_micros = ledger_rollups.cost_micros + excluded.cost_micros,
      input_tokens = ledger_rollups.input_tokens + excluded.input_tokens,
      output_tokens = ledger_rollups.output_tokens + excluded.output_tokens`;
}

/**
 * The burst rows (through the request-id gate) and their rollups, as the settle path would
 * have written them, ending now. No VACUUM: on a live system the last minute's rows are not
 * vacuumed yet either.
 */
export async function generateBurst(client: pg.Client, shape: LedgerShape, burst: BurstShape): Promise<void> {
  const total = burst.rows * burst.userIds.length;
  await client.query(`select quotagate_ledger_partition(now())`);
  await client.query(`select quotagate_ledger_partition(now() - interval '1 hour')`);
  await client.query(
    `insert into usage_ledger (request_id, user_id, key_id, model, model_group_id, cost_micros, input_tokens,
       output_tokens, counted_in_user_global, counted_in_key_global, buckets, status, reserved_at, settled_at,
       metadata, recorded_at)
     select 'burst-' || n, u, null, $2, $3, 1000 + n % 5000, 0, 0, false, false,
       replace($4, $5, u || '|')::jsonb, 'settled', t - interval '200 milliseconds', t, null, t
     from (
       select n, ($6::text[])[1 + n % cardinality($6::text[])] as u,
         now() - case when random() < $7 then random() * interval '50 seconds'
           else interval '1 minute' + random() * interval '58 minutes' end as t
       from generate_series(0, $1::bigint - 1) n
     ) g`,
    [
      total,
      shape.model,
      shape.modelGroupId,
      JSON.stringify(shape.templateBuckets),
      `${shape.templateUser}|`,
      burst.userIds,
      burst.inLastMinute,
    ],
  );
  await client.query(
    `insert into ledger_request_ids (request_id, recorded_at)
     select request_id, recorded_at from usage_ledger where request_id like 'burst-%'
     on conflict do nothing`,
  );
  await client.query(burstRollups());
}
