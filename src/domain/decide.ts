import { admits, evaluated, remainingOf, type Demand } from './admission.js';
import type { Bucket } from './buckets.js';
import { EMPTY_STATE, type BucketState, type IdentifiedState } from './bucket-state.js';
import { nextFreeAt, refusedRetryAfterMs } from './retry.js';
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
 * The one place a store's answer becomes a decision (SPEC §4.1, §4.3, §4.8). The store judges
 * admission atomically (decide.lua, the in-process store) and reports each bucket's state with
 * its verdict (`admits`); this turns them into verdicts, the binding bucket and the retry
 * times, once. States are matched to buckets by key (a map, or the store's states carrying
 * `id`); a bucket without a state is empty, one without a verdict is judged by `admits`.
 *
 * `admitted` is the store's verdict on the whole request, when it gave one: an admitted
 * decision's enforced buckets all admitted it (judged before recording, although the states
 * it reports are after recording; a replayed /reserve reports states of now). Without it (a
 * peek) the buckets' verdicts decide. A shadow bucket that would refuse refuses nothing: it
 * is listed in `shadowRefused` (§4.8).
 */
export function decide(
  buckets: readonly Bucket[],
  states: ReadonlyMap<string, BucketState> | readonly IdentifiedState[],
  demand: Demand,
  now: number,
  admitted?: boolean,
): Decision {
  const byKey: ReadonlyMap<string, BucketState> =
    'get' in states ? states : new Map(states.map((s) => [s.id, s]));
  const verdicts = buckets.map((bucket) => {
    const state = byKey.get(bucket.key) ?? EMPTY_STATE;
    const admits = admitted === true && !bucket.shadow ? true : undefined;
    return verdictOf(bucket, state, demand, now, admits);
  });
  const refused = verdicts.filter((v) => !v.admitted && !v.bucket.shadow);
  const binding = bindingOf(refused);
  return {
    allowed: admitted ?? refused.length === 0,
    now,
    verdicts,
    // Read off the binding bucket, so the body's wait and its reason cannot disagree.
    retryAfterMs: binding ? binding.retryAfterMs : null,
    binding,
    shadowRefused: verdicts.filter((v) => v.bucket.shadow && v.evaluated && !v.admitted),
  };
}

/**
 * One bucket's verdict: the store's (`state.admits`) unless the caller knows it (`known`),
 * judged here only for a state that carries none. A bucket that admits waits 0; only a
 * refusing one's state (as found: nothing was recorded, or only its shadow charge) is timed.
 */
function verdictOf(
  bucket: Bucket,
  state: BucketState,
  demand: Demand,
  now: number,
  known: boolean | undefined,
): BucketVerdict {
  const range = currentWindow(bucket.window, now, {
    firstUseStart: state.windowStart ?? null,
    resetMarker: bucket.resetMarker,
  });
  const admitted = known ?? state.admits ?? admits(bucket, state, demand);
  return {
    bucket,
    state,
    range,
    evaluated: evaluated(bucket, demand),
    admitted,
    remaining: remainingOf(bucket, state),
    retryAfterMs: admitted ? 0 : refusedRetryAfterMs(bucket, state, demand, range, now),
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
