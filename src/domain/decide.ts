import { admits, evaluated, remainingOf, type Demand } from './admission.js';
import type { Bucket } from './buckets.js';
import { EMPTY_STATE, type BucketState, type IdentifiedState } from './bucket-state.js';
import { bucketRetryAfterMs, nextFreeAt } from './retry.js';
import { currentWindow, type WindowRange } from './windows.js';

/** One bucket's part of a decision, with its evidence. */
export interface BucketVerdict {
  bucket: Bucket;
  state: BucketState;
  /** The window at decision time (first_use placed by the stored start). */
  range: WindowRange;
  /** False for a sessions bucket when the request has no session id. */
  evaluated: boolean;
  admitted: boolean;
  remaining: number;
  /** 0 when admitted; null when no time is known. */
  retryAfterMs: number | null;
  /** Epoch ms at which `used` next goes down with nothing else changing (SPEC §4.2); null if never/unknown. */
  nextFreeAt: number | null;
}

/** A decision is a value, refusal included (never an exception). */
export interface Decision {
  allowed: boolean;
  now: number;
  verdicts: BucketVerdict[];
  retryAfterMs: number | null;
  /**
   * The refusing bucket that sets the wait (the latest, or one with no known time): the
   * `reason`, `retryAfterMs` and RateLimit headers of a refusal all describe it (SPEC §4.3).
   */
  binding: BucketVerdict | null;
  /** SPEC §4.8: shadow buckets that would have refused (their refusal refuses nothing). */
  shadowRefused: BucketVerdict[];
}

/**
 * SPEC §4.1: admitted only if every enforced bucket admits; a shadow bucket that would
 * refuse is listed in `shadowRefused` instead (§4.8). States are matched to buckets by key
 * (a map, or the store's states carrying `id`); a bucket without a state is empty.
 */
export function decide(
  buckets: readonly Bucket[],
  states: ReadonlyMap<string, BucketState> | readonly IdentifiedState[],
  demand: Demand,
  now: number,
): Decision {
  const byKey: ReadonlyMap<string, BucketState> =
    'get' in states ? states : new Map(states.map((s) => [s.id, s]));
  const verdicts = buckets.map((bucket) =>
    verdictOf(bucket, byKey.get(bucket.key) ?? EMPTY_STATE, demand, now),
  );
  const refused = verdicts.filter((v) => !v.admitted && !v.bucket.shadow);
  const binding = bindingOf(refused);
  return {
    allowed: refused.length === 0,
    now,
    verdicts,
    // Read off the binding bucket, so the body's wait and its reason cannot disagree.
    retryAfterMs: binding ? binding.retryAfterMs : null,
    binding,
    shadowRefused: verdicts.filter((v) => v.bucket.shadow && v.evaluated && !v.admitted),
  };
}

export function verdictOf(bucket: Bucket, state: BucketState, demand: Demand, now: number): BucketVerdict {
  const range = currentWindow(bucket.window, now, {
    firstUseStart: state.windowStart ?? null,
    resetMarker: bucket.resetMarker,
  });
  return {
    bucket,
    state,
    range,
    evaluated: evaluated(bucket, demand),
    admitted: state.admits ?? admits(bucket, state, demand),
    remaining: remainingOf(bucket, state),
    retryAfterMs: bucketRetryAfterMs(bucket, state, demand, range, now),
    nextFreeAt: nextFreeAt(bucket, state, range),
  };
}

/**
 * The refused bucket with the latest retry time (null counts as latest; on a tie the earlier
 * bucket stays). Its wait is `decisionRetryAfterMs` over all refused buckets.
 */
function bindingOf(refused: readonly BucketVerdict[]): BucketVerdict | null {
  return refused.reduce<BucketVerdict | null>(
    (worst, v) => (worst && waitsLonger(worst, v) ? worst : v),
    null,
  );
}

/** Unknown (null) counts as the longest wait; on a tie the earlier bucket stays. */
function waitsLonger(a: BucketVerdict, b: BucketVerdict): boolean {
  if (a.retryAfterMs === null) return true;
  return b.retryAfterMs !== null && a.retryAfterMs >= b.retryAfterMs;
}
