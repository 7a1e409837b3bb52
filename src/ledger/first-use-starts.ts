import { and, eq, gt } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { firstUseWindows } from '../db/schema.js';
import { firstUseLookbackMs, openFirstUseWindow } from '../domain/first-use.js';
import type { StoreBucket } from '../store/counter-store.js';

/** The start of the bucket's first-use window open at `now`, from the recorded starts (domain/first-use.ts). */
export async function openFirstUseStart(
  db: Executor,
  bucket: StoreBucket,
  now: number,
): Promise<number | null> {
  if (bucket.counting.mode !== 'first_use') return null;
  const { lengthMs, floor } = bucket.counting;
  const rows = await db
    .select({ startedAt: firstUseWindows.startedAt, lengthMs: firstUseWindows.lengthMs })
    .from(firstUseWindows)
    .where(
      and(
        eq(firstUseWindows.bucketKey, bucket.id),
        gt(firstUseWindows.startedAt, new Date(Math.max(now - firstUseLookbackMs(lengthMs), floor - 1))),
      ),
    );
  const starts = rows.map((r) => ({ startedAt: r.startedAt.getTime(), lengthMs: r.lengthMs }));
  return openFirstUseWindow(starts, now, lengthMs, floor);
}
