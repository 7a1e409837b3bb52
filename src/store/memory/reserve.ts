import {
  heldAmounts,
  newSessionIndexes,
  type BucketState,
  type DecideInput,
  type Reservation,
} from '../counter-store.js';
import { RESERVATION_GRACE_MS } from '../store-constants.js';
import { bucketState, recordAdmission } from './bucket-ops.js';
import type { SubjectData } from './subject-data.js';

type Reserve = NonNullable<DecideInput['reserve']>;

/**
 * An admitted reserve's writes (decide.lua's `record` step): every bucket, then the
 * reservation record. Returns the states after recording, and when the record may be dropped.
 */
export function recordReservation(
  data: SubjectData,
  input: DecideInput,
  reserve: Reserve,
  found: BucketState[],
): { states: BucketState[]; reservation: Reservation; dropAt: number } {
  const { now, subject } = input;
  const expiresAt = now + reserve.holdTtlMs;
  const recording = {
    ...reserve,
    ...input,
    // Without holds (/authz) the estimates were only checked: nothing is held.
    estimates:
      reserve.holdEstimates === false
        ? heldAmounts(0, undefined)
        : heldAmounts(input.estimate, input.tokenEstimate),
    expiresAt,
  };
  input.buckets.forEach((b, i) => recordAdmission(data, b, found[i] as BucketState, recording, now));
  const record = {
    state: 'held' as const,
    bodyHash: reserve.bodyHash,
    expiresAt,
    payload: reserve.payload,
    newSessions: newSessionIndexes(input, found),
  };
  const dropAt = expiresAt + RESERVATION_GRACE_MS;
  data.records.set(reserve.requestId, { record, dropAt });
  // A new admission is not a reconnect, even once recorded.
  const states = input.buckets.map((b, i) => ({
    ...bucketState(data, b, now, input.sessionId),
    reconnect: (found[i] as BucketState).reconnect,
    admits: (found[i] as BucketState).admits,
  }));
  return { states, reservation: { ...record, requestId: reserve.requestId, subject }, dropAt };
}
