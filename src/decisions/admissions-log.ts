import type { Bucket } from '../domain/buckets.js';
import type { WriteBehind } from '../ledger/write-behind.js';
import { writeSessionAdmissions } from '../reservations/session-admissions.js';
import type { BucketState, Reservation } from '../store/counter-store.js';

/**
 * After an admitted /reserve: new session admissions and newly opened first-use windows go
 * to PostgreSQL (write-behind), so losing Redis never forgets them. True when it wrote one:
 * the reserve then made a write that must outlive a failover too (decision-service.ts).
 */
export function recordAdmissions(
  writeBehind: WriteBehind,
  buckets: readonly Bucket[],
  states: readonly BucketState[],
  reservation: Pick<Reservation, 'requestId' | 'newSessions'>,
  admission: { sessionId: string | null; at: number; ttlMs: number },
): boolean {
  const admitted = writeSessionAdmissions(writeBehind, buckets, reservation.newSessions, {
    ...admission,
    requestId: reservation.requestId,
  });
  const stateOf = new Map(states.map((s) => [s.id, s]));
  return recordFirstUseStarts(writeBehind, buckets, stateOf) || admitted;
}

/**
 * First-use windows open in these states go to PostgreSQL (each start once), so losing
 * Redis never moves them; true when one was not written before.
 */
function recordFirstUseStarts(
  writeBehind: WriteBehind,
  buckets: readonly Bucket[],
  stateOf: ReadonlyMap<string, BucketState>,
): boolean {
  let opened = false;
  for (const bucket of buckets) {
    const start = stateOf.get(bucket.key)?.windowStart;
    if (bucket.counting.mode === 'first_use' && start != null) {
      const row = { bucketKey: bucket.key, startedAt: new Date(start), lengthMs: bucket.counting.lengthMs };
      if (writeBehind.firstUseOpened(row)) opened = true;
    }
  }
  return opened;
}
