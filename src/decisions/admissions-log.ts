import type { Bucket } from '../domain/buckets.js';
import type { WriteBehind } from '../ledger/write-behind.js';
import type { BucketState } from '../store/counter-store.js';
import type { DemandInput } from './demand.js';

/** First-use starts already handed to the write-behind (bounded: a window opens rarely). */
const knownStarts = new Map<string, number>();
const MAX_KNOWN_STARTS = 50_000;

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
      rememberStart(writeBehind, bucket.key, start, bucket.counting.lengthMs);
    }
  }
}

function rememberStart(writeBehind: WriteBehind, bucketKey: string, start: number, lengthMs: number): void {
  if (knownStarts.get(bucketKey) === start) return;
  if (knownStarts.size >= MAX_KNOWN_STARTS) knownStarts.clear();
  knownStarts.set(bucketKey, start);
  writeBehind.firstUseOpened({ bucketKey, startedAt: new Date(start), lengthMs });
}
