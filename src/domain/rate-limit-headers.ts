import type { Decision, BucketVerdict } from './decide.js';
import { nextQuotaMs, toSeconds } from './retry.js';
import { isTokenMetric } from './types.js';
import { currentWindow } from './windows.js';

/**
 * Headers of the IETF httpapi RateLimit draft, plus `Retry-After` on refusals. Integers
 * only: cost in micro-dollars (`qu="usd-micro"`). The policy name is the bucket key, which
 * is plain ASCII with no quote or backslash (see bucket-key.ts).
 */
export type HeaderRecord = Record<string, string>;

/**
 * SPEC §4.3: a refusal describes its binding bucket (the one its `reason` and `retryAfterMs`
 * name), so `t` is that bucket's wait and `Retry-After` equals it; an admitted answer
 * describes the tightest bucket.
 */
export function decisionHeaders(decision: Decision): HeaderRecord {
  const headers: HeaderRecord = {};
  const described = (!decision.allowed && decision.binding) || tightestVerdict(decision.verdicts);
  const t = described ? secondsUntilMoreQuota(described, decision.now) : null;
  if (described) {
    headers['RateLimit-Policy'] = policyOf(described, decision.now);
    headers['RateLimit'] =
      `"${described.bucket.key}";r=${Math.floor(described.remaining)}${t === null ? '' : `;t=${t}`}`;
  }
  if (!decision.allowed && decision.retryAfterMs !== null) {
    headers['Retry-After'] = String(Math.max(toSeconds(decision.retryAfterMs), t ?? 0));
  }
  return headers;
}

/**
 * The enforced bucket with the least remaining share. A refusing bucket ranks before any admitting
 * one (a refusal without a binding bucket still describes what refused); unevaluated
 * buckets (sessions without a session id) only count when nothing else exists. Ties keep
 * bucket order.
 */
export function tightestVerdict(verdicts: readonly BucketVerdict[]): BucketVerdict | null {
  // Shadow buckets never refuse, so they never name a caller's limit (SPEC §4.8).
  const enforced = verdicts.filter((v) => !v.bucket.shadow);
  const evaluatedOnes = enforced.filter((v) => v.evaluated);
  const pool = evaluatedOnes.length > 0 ? evaluatedOnes : enforced;
  let best: BucketVerdict | null = null;
  for (const v of pool) {
    if (!best || tighter(v, best)) best = v;
  }
  return best;
}

function tighter(a: BucketVerdict, b: BucketVerdict): boolean {
  if (a.admitted !== b.admitted) return !a.admitted;
  return share(a) < share(b);
}

function share(v: BucketVerdict): number {
  return v.bucket.effectiveLimit > 0 ? v.remaining / v.bucket.effectiveLimit : 0;
}

function policyOf(v: BucketVerdict, now: number): string {
  const w = windowSeconds(v, now);
  const unit =
    v.bucket.metric === 'cost' ? ';qu="usd-micro"' : isTokenMetric(v.bucket.metric) ? ';qu="tokens"' : '';
  return `"${v.bucket.key}";q=${Math.floor(v.bucket.effectiveLimit)}${w === null ? '' : `;w=${w}`}${unit}`;
}

/** Nominal length; a month is the current calendar month; none for `total` and concurrency. */
function windowSeconds(v: BucketVerdict, now: number): number | null {
  const { window } = v.bucket;
  if (window.kind === 'total' || window.kind === 'none') return null;
  if (window.lengthMs !== null) return Math.round(window.lengthMs / 1000);
  const period = currentWindow(window, now);
  return period.end === null ? null : Math.round((period.end - period.start) / 1000);
}

/** A refusing bucket frees up at its retry time; an admitting one at its next reset or release. */
function secondsUntilMoreQuota(v: BucketVerdict, now: number): number | null {
  const ms = v.admitted ? nextQuotaMs(v.bucket, v.state, v.range, now) : v.retryAfterMs;
  return ms === null ? null : toSeconds(ms);
}
