import type { Bucket } from './buckets.js';
import type { BucketState } from './bucket-state.js';
import { amountOf, type Metric } from './types.js';

/** What a request asks of its buckets. */
export interface Demand {
  /** Estimated cost in µ$; 0 when absent. */
  estimateMicros: number;
  /** Estimated LLM tokens (SPEC §4.7); 0 when absent. `tokens` buckets use their sum. */
  estimatedInputTokens?: number;
  estimatedOutputTokens?: number;
  /** Sessions buckets are only evaluated when the request carries a session id. */
  sessionId?: string | null;
}

/** The estimate a bucket of `metric` holds: µ$ for cost, tokens for token metrics, else 0. */
export function estimateOf(metric: Metric, demand: Demand): number {
  return amountOf(metric, {
    costMicros: demand.estimateMicros,
    inputTokens: demand.estimatedInputTokens ?? 0,
    outputTokens: demand.estimatedOutputTokens ?? 0,
  });
}

/**
 * SPEC §4.1 for one bucket (token buckets follow the cost rule with their own estimate,
 * §4.7). A cap of 0 refuses everything in scope, reconnects included:
 * "blocked" wins over "whatever the count". An estimate > 0 may take the bucket exactly
 * to its cap; with no estimate there must be something left.
 */
export function admits(
  bucket: Pick<Bucket, 'metric' | 'effectiveLimit'>,
  state: BucketState,
  demand: Demand,
): boolean {
  const cap = bucket.effectiveLimit;
  if (bucket.metric === 'sessions' && !demand.sessionId) return true;
  if (cap <= 0) return false;
  switch (bucket.metric) {
    case 'cost':
    case 'input_tokens':
    case 'output_tokens':
    case 'tokens': {
      const estimate = Math.max(0, estimateOf(bucket.metric, demand));
      const committed = state.used + state.held;
      return estimate > 0 ? committed + estimate <= cap : committed < cap;
    }
    case 'sessions':
      return state.reconnect === true || state.used < cap;
    case 'requests':
    case 'concurrency':
      return state.used < cap;
  }
}

/** Whether the bucket is evaluated for this demand at all (sessions need a session id). */
export function evaluated(bucket: Bucket, demand: Demand): boolean {
  return bucket.metric !== 'sessions' || Boolean(demand.sessionId);
}

export function remainingOf(bucket: Bucket, state: BucketState): number {
  return Math.max(0, bucket.effectiveLimit - state.used - state.held);
}
