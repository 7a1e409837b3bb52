import { apiAmount } from '../domain/money.js';
import type { BucketSubjectType, LimitMode, LimitSubjectType, Metric, Reset } from '../domain/types.js';
import type { StoredBoost } from '../db/repositories/boosts.js';
import type { StoredLimit } from '../db/repositories/limits.js';
import type { StoredResetMarker } from '../db/repositories/resets.js';

/**
 * The admin API's representation of limits, boosts and reset markers (SPEC §1): what the
 * responses carry and what the audit log records as before/after. Cost in dollars rounded
 * to 6 decimals, counts as they are, times as ISO-8601 strings.
 */
export interface LimitView {
  id: number;
  subjectType: LimitSubjectType;
  subjectId: string;
  modelGroupId: number | null;
  metric: Metric;
  window: string | null;
  reset: Reset | null;
  anchor: string | null;
  timezone: string | null;
  resetTime: string | null;
  limit: number;
  mode: LimitMode;
  alertAt: number[];
  override: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface BoostView {
  id: number;
  subjectType: BucketSubjectType;
  subjectId: string;
  modelGroupId: number | null;
  metric: Metric;
  window: string | null;
  amount: number;
  startsAt: string;
  expiresAt: string;
  reason: string | null;
  createdAt: string;
}

export interface ResetMarkerView {
  id: number;
  subjectType: BucketSubjectType;
  subjectId: string;
  modelGroupId: number | null;
  metric: Metric;
  window: string | null;
  resetAt: string;
  createdAt: string;
}

const iso = (epochMs: number) => new Date(epochMs).toISOString();

export function toLimitView(l: StoredLimit): LimitView {
  return {
    id: l.id,
    subjectType: l.subjectType,
    subjectId: l.subjectId,
    modelGroupId: l.modelGroupId,
    metric: l.metric,
    window: l.window,
    reset: l.reset,
    anchor: l.anchor === null ? null : iso(l.anchor),
    timezone: l.timezone,
    resetTime: l.resetTime,
    limit: apiAmount(l.metric, l.cap),
    mode: l.mode,
    alertAt: l.alertAt,
    override: l.override,
    createdAt: iso(l.createdAt),
    updatedAt: iso(l.updatedAt),
  };
}

export function toBoostView(b: StoredBoost): BoostView {
  return {
    id: b.id,
    subjectType: b.subjectType,
    subjectId: b.subjectId,
    modelGroupId: b.modelGroupId,
    metric: b.metric,
    window: b.window,
    amount: apiAmount(b.metric, b.amount),
    startsAt: iso(b.startsAt),
    expiresAt: iso(b.expiresAt),
    reason: b.reason,
    createdAt: iso(b.createdAt),
  };
}

export function toResetMarkerView(r: StoredResetMarker): ResetMarkerView {
  return {
    id: r.id,
    subjectType: r.subjectType,
    subjectId: r.subjectId,
    modelGroupId: r.modelGroupId,
    metric: r.metric,
    window: r.window,
    resetAt: iso(r.resetAt),
    createdAt: iso(r.createdAt),
  };
}
