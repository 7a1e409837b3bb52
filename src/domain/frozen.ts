import type { ConfigSnapshot } from '../snapshot/snapshot.js';
import type { Bucket } from './buckets.js';
import { countingOf } from './counting.js';
import { currentWindow } from './windows.js';

/** Where the latest reset marker of a bucket is read (the config snapshot). */
export type MarkerSource = Pick<ConfigSnapshot, 'resetMarkerOf'>;

/**
 * A reservation freezes its buckets (which limits, caps and windows it is charged to), not
 * the instant: a settle after midnight charges the frozen daily bucket's *new* window. Nor
 * does it freeze the reset marker: spend settled after a newer marker is usage after it and
 * counts in the reset bucket, as a rebuild from the ledger (by settle time) would count it.
 */
export function bucketAt(bucket: Bucket, now: number, markers?: MarkerSource): Bucket {
  const current =
    markers?.resetMarkerOf(
      bucket.axis,
      bucket.ownerId,
      bucket.modelGroupId,
      bucket.metric,
      bucket.window.slot,
    ) ?? null;
  const resetMarker =
    bucket.resetMarker === null || (current !== null && current > bucket.resetMarker)
      ? current
      : bucket.resetMarker;
  const range = currentWindow(bucket.window, now, { resetMarker });
  return {
    ...bucket,
    resetMarker,
    range,
    counting: countingOf(bucket.metric, bucket.window, range, resetMarker, bucket.effectiveLimit),
  };
}
