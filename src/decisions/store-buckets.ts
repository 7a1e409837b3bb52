import type { Bucket } from '../domain/buckets.js';
import type { StoreBucket } from '../store/counter-store.js';

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

export const toStoreBuckets = (buckets: readonly Bucket[]) => buckets.map(toStoreBucket);
