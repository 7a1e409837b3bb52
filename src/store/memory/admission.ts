import { admits } from '../../domain/admission.js';
import type { Bucket } from '../../domain/buckets.js';
import type { BucketState, StoreBucket } from '../counter-store.js';

/**
 * SPEC §4.1 for one bucket, by the decision core's own rule (src/domain/admission.ts); the
 * Redis scripts mirror it in redis/lua/buckets.lua. `admits` reads only a bucket's metric and
 * effective limit, which is all a store bucket can offer it.
 */
export function bucketAdmits(
  bucket: StoreBucket,
  state: BucketState,
  estimate: number,
  sessionId: string | null,
): boolean {
  const view: Pick<Bucket, 'metric' | 'effectiveLimit'> = {
    metric: bucket.metric,
    effectiveLimit: bucket.limit,
  };
  return admits(view as Bucket, state, { estimateMicros: estimate, sessionId });
}
