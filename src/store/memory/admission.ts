import { admits } from '../../domain/admission.js';
import type { HeldAmounts } from '../../domain/types.js';
import type { BucketState, StoreBucket } from '../counter-store.js';

/**
 * SPEC §4.1 for one bucket, by the decision core's own rule (src/domain/admission.ts); the
 * Redis scripts mirror it in redis/lua/buckets.lua.
 */
export function bucketAdmits(
  bucket: StoreBucket,
  state: BucketState,
  estimates: HeldAmounts,
  sessionId: string | null,
): boolean {
  const view = { metric: bucket.metric, effectiveLimit: bucket.limit };
  const demand = {
    estimateMicros: estimates.costMicros,
    estimatedInputTokens: estimates.inputTokens,
    estimatedOutputTokens: estimates.outputTokens,
    sessionId,
  };
  return admits(view, state, demand);
}
