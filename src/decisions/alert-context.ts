import type { ThresholdCrossing } from '../alerts/outbox.js';
import type { Bucket } from '../domain/buckets.js';
import { apiAmount } from '../domain/money.js';
import type { BucketSubjectType, Metric } from '../domain/types.js';
import type { StoredAlert, StoreBucket } from '../store/counter-store.js';

/**
 * What an alert needs to become a `quota.threshold_crossed` event (SPEC §5.1) without the
 * settle that crossed it: the counter store keeps it opaque beside the crossing, so an
 * instance that finds an alert left behind by a dead one can still send it.
 */
interface AlertContext {
  bucket: string;
  axis: BucketSubjectType;
  ownerId: string;
  modelGroupId: number | null;
  metric: Metric;
  window: string | null;
  limitId: number;
  shadow: boolean;
  /** The bucket's effective limit in store units (µ$ for cost). */
  effectiveLimit: number;
  fractions: number[];
}

export type Crossing = ThresholdCrossing;

/** A settle bucket's alert thresholds: `used` at or above ceil(fraction × effective limit). */
export function alertsOf(bucket: Bucket): StoreBucket['alerts'] {
  const fractions = bucket.alertAt ?? [];
  if (fractions.length === 0 || bucket.metric === 'sessions' || bucket.metric === 'concurrency')
    return undefined;
  const context: AlertContext = {
    bucket: bucket.key,
    axis: bucket.axis,
    ownerId: bucket.ownerId,
    modelGroupId: bucket.modelGroupId,
    metric: bucket.metric,
    window: bucket.window.slot,
    limitId: bucket.source.limitId,
    shadow: bucket.shadow,
    effectiveLimit: bucket.effectiveLimit,
    fractions,
  };
  return {
    thresholds: fractions.map((f) => Math.max(1, Math.ceil(f * bucket.effectiveLimit))),
    context: Buffer.from(JSON.stringify(context), 'utf8').toString('base64url'),
  };
}

/** The event data of a stored alert; null for one whose context no longer reads. */
export function crossingOf(alert: StoredAlert): Crossing | null {
  let context: AlertContext;
  try {
    context = JSON.parse(Buffer.from(alert.context, 'base64url').toString('utf8')) as AlertContext;
  } catch {
    return null;
  }
  const threshold = context.fractions?.[alert.threshold];
  if (threshold === undefined) return null;
  const units = (n: number) => apiAmount(context.metric, n);
  return {
    bucket: context.bucket,
    axis: context.axis,
    ownerId: context.ownerId,
    modelGroupId: context.modelGroupId,
    metric: context.metric,
    window: context.window,
    threshold,
    used: units(alert.used),
    effectiveLimit: units(context.effectiveLimit),
    limitId: context.limitId,
    shadow: context.shadow,
    resetAt: alert.resetAt === null ? null : new Date(alert.resetAt).toISOString(),
    requestId: alert.requestId,
  };
}
