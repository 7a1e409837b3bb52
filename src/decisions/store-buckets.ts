import type { Bucket } from '../domain/buckets.js';
import type { StoreBucket } from '../store/counter-store.js';
import { alertsOf } from './alert-context.js';

/** What the counter store needs of a domain bucket. */
export function toStoreBucket(bucket: Bucket): StoreBucket {
  return {
    id: bucket.key,
    metric: bucket.metric,
    counting: bucket.counting,
    limit: bucket.effectiveLimit,
    shadow: bucket.shadow,
  };
}

/** A settle's buckets also carry their alert thresholds (SPEC §5.1), judged with the charge. */
export function toSettleBuckets(buckets: readonly Bucket[]): StoreBucket[] {
  return buckets.map((bucket) => {
    const alerts = alertsOf(bucket);
    return alerts ? { ...toStoreBucket(bucket), alerts } : toStoreBucket(bucket);
  });
}

export const toStoreBuckets = (buckets: readonly Bucket[]) => buckets.map(toStoreBucket);
