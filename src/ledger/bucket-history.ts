import { Param, sql, type SQL } from 'drizzle-orm';
import { rowsOf, type Executor } from '../db/client.js';
import { bucketOwner } from '../domain/bucket-key.js';
import type { StoreBucket } from '../store/counter-store.js';
import { containsBucket } from './bucket-rows.js';
import { mentionsBucket } from '../reservations/rows.js';

/**
 * Whether PostgreSQL holds anything a rebuild of these buckets would read: ledger rows,
 * rollups, reservations, session admissions or first-use starts, at any time. False means
 * every bucket rebuilds empty (a new subject), so one statement of index probes replaces
 * the rebuild's reads. Buckets of no user or key (no owner index) answer true: read them.
 */
export async function hasHistory(db: Executor, buckets: readonly StoreBucket[]): Promise<boolean> {
  const ids = buckets.filter((b) => b.metric !== 'concurrency').map((b) => b.id);
  if (ids.length === 0) return false;
  if (ids.some((id) => bucketOwner(id) === null)) return true;
  const any = sql`any(${new Param(ids)}::text[])`;
  const probes: SQL[] = [
    ...ids.map((id) => sql`exists (select 1 from usage_ledger where ${containsBucket(id)})`),
    ...ids.map(mentionsBucket),
    sql`exists (select 1 from session_admissions where bucket_key = ${any})`,
    sql`exists (select 1 from first_use_windows where bucket_key = ${any})`,
    sql`exists (select 1 from ledger_rollups where bucket = ${any})`,
  ];
  const result = await db.execute(sql`select (${sql.join(probes, sql` or `)}) as found`);
  return rowsOf<{ found: boolean }>(result)[0]?.found !== false;
}
