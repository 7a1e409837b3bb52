import type { Bucket } from '../domain/buckets.js';
import type { WriteBehind } from '../ledger/write-behind.js';
import type { BucketState } from '../store/counter-store.js';
import type { DemandInput } from './demand.js';

/**
 * After an admitted /reserve: new session admissions and newly opened first-use windows go
 * to PostgreSQL (write-behind), so losing Redis never forgets them.
 */
export function recordAdmissions(
  writeBehind: WriteBehind,
  buckets: readonly Bucket[],
  states: readonly BucketState[],
  input: DemandInput & { requestId: string },
  now: number,
  sessionTtlMs: number,
): void {
  const stateOf = new Map(states.map((s) => [s.id, s]));
  for (const bucket of buckets) {
    const state = stateOf.get(bucket.key);
    if (!state) continue;
    if (bucket.metric === 'sessions' && input.sessionId && !state.reconnect) {
      writeBehind.admitted({
        bucketKey: bucket.key,
        ownerType: bucket.axis,
        ownerId: bucket.ownerId,
        sessionId: input.sessionId,
        requestId: input.requestId,
        admittedAt: new Date(now),
        activeUntil: new Date(now + sessionTtlMs),
      });
    }
  }
  recordFirstUseStarts(writeBehind, buckets, states);
}

/** First-use windows open in these states go to PostgreSQL (each start once), so losing Redis never moves them. */
export function recordFirstUseStarts(
  writeBehind: WriteBehind,
  buckets: readonly Bucket[],
  states: readonly BucketState[],
): void {
  const stateOf = new Map(states.map((s) => [s.id, s]));
  for (const bucket of buckets) {
    const start = stateOf.get(bucket.key)?.windowStart;
    if (bucket.counting.mode === 'first_use' && start != null) {
      writeBehind.firstUseOpened({
        bucketKey: bucket.key,
        startedAt: new Date(start),
        lengthMs: bucket.counting.lengthMs,
      });
    }
  }
}
