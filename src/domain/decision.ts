import type { BucketSource } from './buckets.js';
import type { BucketVerdict, Decision } from './decide.js';
import { apiAmount } from './money.js';
import { decisionHeaders, type HeaderRecord } from './rate-limit-headers.js';
import { RESETS, type BucketSubjectType, type Metric, type Reset } from './types.js';

/** The response body of SPEC §4.3, shared by /check, /reserve and /usage. */
export type ReservationState = 'held' | 'settled' | 'released' | 'expired';

export interface ReservationView {
  state: ReservationState;
  expiresAt: string;
}

export interface BucketView {
  key: string;
  axis: BucketSubjectType;
  ownerId: string;
  modelGroupId: number | null;
  metric: Metric;
  window: string | null;
  reset: Reset | null;
  limit: number;
  boost: number;
  effectiveLimit: number;
  used: number;
  held: number;
  remaining: number;
  resetAt: string | null;
  /** When `used` next goes down with nothing else changing (SPEC §4.2); null: never, or nothing used. */
  nextFreeAt: string | null;
  retryAfterMs: number | null;
  exceeded: boolean;
  /** SPEC §4.8: evaluated and charged, never refusing; `exceeded` as computed. */
  shadow: boolean;
  source: BucketSource;
}

export interface DecisionBody {
  allowed: boolean;
  status: 'ok' | 'rate_limited';
  requestId: string | null;
  reservation: ReservationView | null;
  retryAfterMs: number | null;
  reason: string | null;
  buckets: BucketView[];
  /** Keys of the shadow buckets that would have refused this request (SPEC §4.8). */
  shadowRefused: string[];
  failOpen: boolean;
}

export interface DecisionResponse {
  statusCode: 200 | 429;
  body: DecisionBody;
  headers: HeaderRecord;
}

export interface ResponseContext {
  requestId?: string | null;
  /** Only an admitted /reserve has one (epoch ms expiry). */
  reservation?: { state: ReservationState; expiresAt: number } | null;
}

export function buildDecisionResponse(decision: Decision, context: ResponseContext = {}): DecisionResponse {
  const reservation = decision.allowed && context.reservation ? context.reservation : null;
  return {
    statusCode: decision.allowed ? 200 : 429,
    headers: decisionHeaders(decision),
    body: {
      allowed: decision.allowed,
      status: decision.allowed ? 'ok' : 'rate_limited',
      requestId: context.requestId ?? null,
      reservation: reservation && { state: reservation.state, expiresAt: iso(reservation.expiresAt) },
      retryAfterMs: decision.allowed ? null : decision.retryAfterMs,
      reason: decision.binding ? reasonOf(decision.binding) : null,
      buckets: decision.verdicts.map(bucketView),
      shadowRefused: decision.shadowRefused.map((v) => v.bucket.key),
      failOpen: false,
    },
  };
}

/** The store could not be asked (SPEC §4.6, FAIL_MODE=open): allowed, nothing recorded. */
export function failOpenResponse(requestId: string | null = null): DecisionResponse {
  const body: DecisionBody = {
    allowed: true,
    status: 'ok',
    requestId,
    reservation: null,
    retryAfterMs: null,
    reason: null,
    buckets: [],
    shadowRefused: [],
    failOpen: true,
  };
  return { statusCode: 200, headers: {}, body };
}

export function bucketView(v: BucketVerdict): BucketView {
  const { bucket, state } = v;
  const money = (n: number) => apiAmount(bucket.metric, n);
  return {
    key: bucket.key,
    axis: bucket.axis,
    ownerId: bucket.ownerId,
    modelGroupId: bucket.modelGroupId,
    metric: bucket.metric,
    window: bucket.metric === 'concurrency' ? null : bucket.window.slot,
    reset: (RESETS as readonly string[]).includes(bucket.window.kind) ? (bucket.window.kind as Reset) : null,
    limit: money(bucket.limit),
    boost: money(bucket.boost),
    effectiveLimit: money(bucket.effectiveLimit),
    used: money(state.used),
    held: money(state.held),
    remaining: money(v.remaining),
    resetAt: v.range.end === null ? null : iso(v.range.end),
    nextFreeAt: v.nextFreeAt === null ? null : iso(v.nextFreeAt),
    retryAfterMs: v.retryAfterMs,
    exceeded: !v.admitted,
    shadow: bucket.shadow,
    source: { ...bucket.source },
  };
}

/**
 * `user u-42: cost 5h limit reached on group 3 (opus)`, and when another limit than the
 * user's plain own one set the cap, where it came from (`…; cap from user group 7 (pro)`,
 * `…; cap from the default limit 12 (everyone)`, `…; cap from override limit 31`): the
 * operator must know which limit to raise.
 */
export function reasonOf(v: BucketVerdict): string {
  const { bucket } = v;
  const what = bucket.metric === 'concurrency' ? 'concurrency' : `${bucket.metric} ${bucket.window.slot}`;
  const scope =
    bucket.modelGroupId === null
      ? 'all models'
      : `group ${named(bucket.modelGroupId, bucket.modelGroupName)}`;
  const state = bucket.effectiveLimit <= 0 ? 'is blocked (limit 0)' : 'limit reached';
  return `${bucket.axis} ${bucket.ownerId}: ${what} ${state} on ${scope}${capFrom(bucket)}`;
}

function capFrom(bucket: BucketVerdict['bucket']): string {
  const { source } = bucket;
  if (bucket.sourceOverride === true) return `; cap from override limit ${source.limitId}`;
  switch (source.subjectType) {
    case 'user_group':
      return `; cap from user group ${named(source.subjectId, bucket.sourceGroupName)}`;
    case 'everyone':
      return `; cap from the default limit ${source.limitId} (everyone)`;
    default:
      return '';
  }
}

const named = (id: number | string, name: string | null) => (name === null ? `${id}` : `${id} (${name})`);

const iso = (ms: number) => new Date(ms).toISOString();
