import { countingWindow } from '../../domain/counting.js';
import { needsWarmth, warmField } from '../counting-signature.js';
import { amountOf, isHeldMetric, type HeldAmounts } from '../../domain/types.js';
import type { BucketState, ColdOutcome, StoreBucket } from '../counter-store.js';
import { activeSessionsKept } from '../store-constants.js';
import { mapIn, type Hold, type SubjectData } from './subject-data.js';
import { addUsage, needed, readUsage } from './usage.js';

/**
 * One bucket's reading and writing on a subject's data, by the rules of redis/lua/usage.lua
 * and holds.lua: expired holds and slots are dropped lazily as they are met.
 */
export function bucketState(
  data: SubjectData,
  bucket: StoreBucket,
  now: number,
  sessionId: string | null,
): BucketState {
  // `admits` is the caller's to judge (memory-store.ts), as decide.lua does after reading.
  const base = {
    id: bucket.id,
    held: 0,
    reconnect: false,
    windowStart: null,
    windowEnd: null,
    admits: false,
  };
  if (bucket.metric === 'concurrency') {
    const expiries = [...liveSlots(data, bucket.id, now).values()].sort((a, b) => a - b);
    const timeline = expiries
      .slice(0, needed(bucket.limit, expiries.length))
      .map((at) => ({ at, amount: 1 }));
    return { ...base, used: expiries.length, timeline };
  }
  const field = warmField(bucket);
  const reading = readUsage(data.usage.get(field), bucket, now);
  const held = isHeldMetric(bucket.metric)
    ? [...liveHolds(data, bucket.id, now).values()].reduce((s, h) => s + h.amount, 0)
    : 0;
  const activeUntil = sessionId ? data.active.get(field)?.get(sessionId) : undefined;
  return {
    ...base,
    ...countingWindow(bucket.counting, now, reading.firstUseStart),
    admits: false,
    used: reading.used,
    held,
    reconnect: bucket.metric === 'sessions' && activeUntil !== undefined && activeUntil > now,
    timeline: reading.timeline,
  };
}

export interface Recording {
  requestId: string;
  estimates: HeldAmounts;
  expiresAt: number;
  sessionId: string | null;
  sessionTtlMs: number;
}

/** An admitted reserve's writes in one bucket (`state` as found before them). */
export function recordAdmission(
  data: SubjectData,
  bucket: StoreBucket,
  state: BucketState,
  r: Recording,
  now: number,
): void {
  switch (bucket.metric) {
    case 'cost':
    case 'input_tokens':
    case 'output_tokens':
    case 'tokens': {
      const estimate = amountOf(bucket.metric, r.estimates);
      if (estimate > 0)
        mapIn(data.holds, bucket.id).set(r.requestId, { amount: estimate, expiresAt: r.expiresAt });
      charge(data, bucket, 0, now); // opens a first-use window
      break;
    }
    case 'requests':
      charge(data, bucket, 1, now);
      break;
    case 'sessions':
      if (r.sessionId && !state.reconnect) {
        charge(data, bucket, 1, now);
        const active = mapIn(data.active, warmField(bucket));
        for (const [session, until] of active) if (until <= now) active.delete(session);
        active.set(r.sessionId, now + r.sessionTtlMs);
        keepLongestActive(active, activeSessionsKept(bucket.limit));
      }
      break;
    case 'concurrency':
      mapIn(data.slots, bucket.id).set(r.requestId, r.expiresAt);
      break;
  }
}

export function charge(data: SubjectData, bucket: StoreBucket, amount: number, now: number): void {
  const field = warmField(bucket);
  const next = addUsage(data.usage.get(field), bucket, amount, now);
  if (next) data.usage.set(field, next);
}

/** holds.lua's bound: the sessions active longest stay, the one ending first goes. */
function keepLongestActive(active: Map<string, number>, keep: number): void {
  while (active.size > keep) {
    let first: [string, number] | null = null;
    for (const entry of active) if (first === null || entry[1] < first[1]) first = entry;
    if (first) active.delete(first[0]);
  }
}

/** Moves the request's live hold or slot to a new expiry (extend.lua). */
export function extendRequest(
  data: SubjectData,
  bucket: StoreBucket,
  requestId: string,
  expiresAt: number,
): void {
  const hold = data.holds.get(bucket.id)?.get(requestId);
  if (hold) hold.expiresAt = expiresAt;
  const slots = data.slots.get(bucket.id);
  if (slots?.has(requestId)) slots.set(requestId, expiresAt);
}

/** Frees the request's hold or slot. */
export function releaseRequest(data: SubjectData, bucket: StoreBucket, requestId: string): void {
  data.holds.get(bucket.id)?.delete(requestId);
  data.slots.get(bucket.id)?.delete(requestId);
}

function liveHolds(data: SubjectData, bucketId: string, now: number) {
  const holds = data.holds.get(bucketId) ?? new Map<string, Hold>();
  for (const [request, hold] of holds) if (hold.expiresAt <= now) holds.delete(request);
  return holds;
}

function liveSlots(data: SubjectData, bucketId: string, now: number) {
  const slots = data.slots.get(bucketId) ?? new Map<string, number>();
  for (const [request, expiresAt] of slots) if (expiresAt <= now) slots.delete(request);
  return slots;
}

/** layout.lua's cold_reply: the buckets not warm with the subject's generation, or null. */
export function coldOutcome(data: SubjectData, buckets: readonly StoreBucket[]): ColdOutcome | null {
  const cold = buckets.filter((b) => needsWarmth(b) && !data.warm.has(warmField(b))).map((b) => b.id);
  if (cold.length === 0) return null;
  const fresh = data.warm.size === 0 && data.generation === '';
  return { kind: 'cold', buckets: cold, generation: data.generation, fresh };
}
