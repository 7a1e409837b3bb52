import { admits } from '../../domain/admission.js';
import type { BucketState, StoreBucket } from '../counter-store.js';

/**
 * SPEC §4.1 for one bucket, by the decision core's own rule (src/domain/admission.ts); the
 * Redis scripts mirror it in redis/lua/buckets.lua.
 */
export function bucketAdmits(
  bucket: StoreBucket,
  state: BucketState,
  estimate: number,
  sessionId: string | null,
): boolean {
  const view = { metric: bucket.metric, effectiveLimit: bucket.limit };
  return admits(view, state, { estimateMicros: estimate, sessionId });
}
