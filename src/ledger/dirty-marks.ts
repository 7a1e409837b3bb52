import { sql } from 'drizzle-orm';
import { rowsOf, type Db } from '../db/client.js';
import { dirtySubjects } from '../db/schema.js';

/**
 * Dirty marks: subjects whose counters may miss a settle the ledger holds (SPEC §4.6),
 * rebuilt once a sweep has made the store forget their warm flags (DirtySweeper).
 *
 * A mark is cleared only if nobody marked the subject again since the sweep read it: each
 * marking writes a new `marked_at` (the clock at that statement, not its transaction's
 * start) and a clear deletes only the value it read. A subject marked while a sweep clears
 * it — its settle's apply failed after the sweep forgot the flags, and a rebuild that read
 * the ledger before that settle made them warm again — keeps its mark for the next sweep.
 */
export interface DirtyMark {
  subject: string;
  /** marked_at exactly as PostgreSQL stores it (µs): a JS Date would drop the microseconds. */
  markedAt: string;
}

/**
 * Every writer of a mark upserts it this way (the ledger statement and the sweep's overdue
 * intents in their own SQL): a marking over an existing mark is a new marking.
 */
export async function markDirty(db: Db, subject: string): Promise<void> {
  await db.execute(sql`
    insert into ${dirtySubjects} (subject) values (${subject})
    on conflict (subject) do update set marked_at = clock_timestamp()`);
}

/** The oldest marks first, so none waits behind a flood of newer ones. */
export async function oldestMarks(db: Db, limit: number): Promise<DirtyMark[]> {
  const result = await db.execute(sql`
    select subject, marked_at::text as "markedAt" from ${dirtySubjects} order by marked_at limit ${limit}`);
  return rowsOf<DirtyMark>(result);
}

/** Deletes the mark if it still holds the value read; a newer marking stays. */
export async function clearMark(db: Db, mark: DirtyMark): Promise<void> {
  await db.execute(sql`
    delete from ${dirtySubjects}
    where subject = ${mark.subject} and marked_at = ${mark.markedAt}::timestamptz`);
}
