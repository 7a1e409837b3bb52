import type { Bucket } from './buckets.js';
import { countingOf } from './counting.js';
import { currentWindow } from './windows.js';

/**
 * A reservation freezes its buckets (which limits, caps and windows it is charged to), not
 * the instant: a settle after midnight charges the frozen daily bucket's *new* window.
 */
export function bucketAt(bucket: Bucket, now: number): Bucket {
  const range = currentWindow(bucket.window, now, { resetMarker: bucket.resetMarker });
  return {
    ...bucket,
    range,
    counting: countingOf(bucket.metric, bucket.window, range, bucket.resetMarker, bucket.effectiveLimit),
  };
}
