import type { Bucket } from '../domain/buckets.js';
import type { WriteBehind } from '../ledger/write-behind.js';

/**
 * The session admissions a reservation made, written behind (SPEC §4.4): one row per bucket
 * the store names as a new admission (`Reservation.newSessions`, indexes into `buckets`), at
 * the reserve's own instant, so an answered reserve and its replay write the same rows
 * (idempotent inserts). True when it wrote one.
 */
export function writeSessionAdmissions(
  writeBehind: Pick<WriteBehind, 'admitted'>,
  buckets: readonly Bucket[],
  newSessions: readonly number[],
  admission: { sessionId: string | null | undefined; requestId: string; at: number; ttlMs: number },
): boolean {
  const { sessionId, requestId, at, ttlMs } = admission;
  if (!sessionId) return false;
  let wrote = false;
  for (const index of newSessions) {
    const bucket = buckets[index];
    if (bucket?.metric !== 'sessions') continue;
    writeBehind.admitted({
      bucketKey: bucket.key,
      ownerType: bucket.axis,
      ownerId: bucket.ownerId,
      sessionId,
      requestId,
      admittedAt: new Date(at),
      activeUntil: new Date(at + ttlMs),
    });
    wrote = true;
  }
  return wrote;
}
