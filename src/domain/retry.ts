import { admits, estimateOf, type Demand } from './admission.js';
import type { Bucket } from './buckets.js';
import type { BucketState } from './bucket-state.js';
import { entryCounts, entryWidthMs, leavesAt } from './counting.js';
import type { WindowRange } from './windows.js';

/**
 * SPEC §4.3 retry times: the earliest moment a bucket would admit this same request with
 * nothing else changing. Absolute instants inside, milliseconds from `now` outside, never
 * negative; null when no time is known or none exists. 0 for a state that admits now.
 */
export function bucketRetryAfterMs(
  bucket: Bucket,
  state: BucketState,
  demand: Demand,
  range: WindowRange,
  now: number,
): number | null {
  return admits(bucket, state, demand) ? 0 : refusedRetryAfterMs(bucket, state, demand, range, now);
}

/**
 * The retry time of a bucket already judged to refuse (`decide` has the store's verdict and
 * asks only for refusing buckets, whose states are as the store found them).
 */
export function refusedRetryAfterMs(
  bucket: Bucket,
  state: BucketState,
  demand: Demand,
  range: WindowRange,
  now: number,
): number | null {
  if (bucket.effectiveLimit <= 0) return null;
  // An estimate above the cap fits in no window, however long one waits.
  if (estimateOf(bucket.metric, demand) > bucket.effectiveLimit) return null;
  if (refusedByHoldsOnly(bucket, state, demand)) return null;
  const at = retryAt(bucket, state, demand, range);
  return at === null ? null : Math.max(0, at - now);
}

/**
 * SPEC §4.3: refused only because of open holds (used alone, with the estimate, fits). Holds
 * leave by settle, release or expiry, not by time passing, so no window kind knows a time.
 * Concurrency slots are not holds in this sense: they expire at known times.
 */
export function refusedByHoldsOnly(bucket: Bucket, state: BucketState, demand: Demand): boolean {
  if (bucket.metric === 'concurrency' || state.held <= 0) return false;
  return !admits(bucket, state, demand) && admits(bucket, { ...state, held: 0 }, demand);
}

function retryAt(bucket: Bucket, state: BucketState, demand: Demand, range: WindowRange): number | null {
  if (bucket.metric === 'concurrency') return sweep(bucket, state, demand, releasesOf(bucket, state, range));
  switch (bucket.window.kind) {
    case 'fixed':
    case 'calendar':
    case 'first_use':
      // A new window empties `used`; if the holds still leave no room, no time is known.
      return admits(bucket, { ...state, used: 0 }, demand) ? range.end : null;
    case 'rolling':
      return sweep(bucket, state, demand, releasesOf(bucket, state, range));
    case 'total':
    case 'none':
      return null;
  }
}

/** A future moment at which part of `used` frees up. */
export interface Release {
  at: number;
  amount: number;
}

/** Rolling usage leaves entry by entry; a concurrency slot frees when its hold expires. */
export function releasesOf(bucket: Bucket, state: BucketState, range: WindowRange): Release[] {
  const timeline = state.timeline ?? [];
  if (bucket.metric === 'concurrency')
    return timeline.map((e) => ({ at: e.at, amount: e.amount })).sort(byTime);
  const lengthMs = bucket.window.lengthMs;
  if (bucket.window.kind !== 'rolling' || lengthMs === null) return [];
  const width = entryWidthMs(bucket.counting);
  return timeline
    .filter((e) => entryCounts(e.at, width, range.start))
    .map((e) => ({ at: leavesAt(e.at, width, lengthMs), amount: e.amount }))
    .sort(byTime);
}

const byTime = (a: Release, b: Release) => a.at - b.at;

/** Frees releases in time order until the bucket admits; null if it never does. */
function sweep(
  bucket: Bucket,
  state: BucketState,
  demand: Demand,
  releases: readonly Release[],
): number | null {
  let used = state.used;
  for (let i = 0; i < releases.length; i++) {
    const release = releases[i] as Release;
    used -= release.amount;
    if (releases[i + 1]?.at === release.at) continue;
    if (admits(bucket, { ...state, used: Math.max(0, used) }, demand)) return release.at;
  }
  return null;
}

/**
 * SPEC §4.2 `nextFreeAt`: the instant at which `used` next goes down with nothing else
 * changing. Rolling: the oldest counted entry leaves (a log event at `at + length`, a slice
 * at `sliceStart + sliceMs − 1 + length`); fixed, calendar, first_use: the window's end.
 * Null when nothing is used, for `total` and concurrency, and for a rolling bucket whose
 * store reported no timeline (unknown). Holds are not `used`: they never make it non-null.
 */
export function nextFreeAt(bucket: Bucket, state: BucketState, range: WindowRange): number | null {
  if (state.used <= 0 || bucket.metric === 'concurrency') return null;
  switch (bucket.window.kind) {
    case 'fixed':
    case 'calendar':
    case 'first_use':
      return range.end;
    case 'rolling':
      return releasesOf(bucket, state, range)[0]?.at ?? null;
    case 'total':
    case 'none':
      return null;
  }
}

/** The decision waits for its slowest refusing bucket; one unknown time makes it unknown. */
export function decisionRetryAfterMs(refusedRetries: readonly (number | null)[]): number | null {
  if (refusedRetries.length === 0 || refusedRetries.includes(null)) return null;
  return Math.max(...(refusedRetries as number[]));
}

/** `Retry-After` and RateLimit `t` are whole seconds, rounded up so a client never retries early. */
export function toSeconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}

/**
 * Milliseconds until the bucket next gains quota (RateLimit `t`), admitted or not: the
 * window's end, or the next usage/hold to leave; null when nothing will ever free up.
 */
export function nextQuotaMs(
  bucket: Bucket,
  state: BucketState,
  range: WindowRange,
  now: number,
): number | null {
  if (bucket.effectiveLimit <= 0) return null;
  const kind = bucket.metric === 'concurrency' ? 'none' : bucket.window.kind;
  if (kind === 'fixed' || kind === 'calendar' || kind === 'first_use') {
    return range.end === null ? null : Math.max(0, range.end - now);
  }
  if (kind === 'total') return null;
  const next = releasesOf(bucket, state, range)[0];
  return next ? Math.max(0, next.at - now) : null;
}
