import type { Counting, StoreBucket } from './counter-store.js';
import { encodeKnownId } from './ids.js';

/**
 * How a bucket's counting is named in storage. A changed window definition or reset marker
 * (floor) changes the signature, so it starts fresh storage and a cold flag (rebuilt from the
 * ledger) instead of reading usage counted under other rules. `window` counters are keyed
 * by their definition, not their start: a new window of the same definition restarts the
 * counter in place (no rebuild at every midnight), an edited definition starts afresh.
 */
export function countingSignature(counting: Counting): string {
  switch (counting.mode) {
    case 'log':
      return `l.${counting.lengthMs}.${counting.floor}`;
    case 'slices':
      return `s.${counting.lengthMs}.${counting.sliceMs}.${counting.floor}`;
    case 'first_use':
      return `f.${counting.lengthMs}.${counting.floor}`;
    case 'window':
      return counting.def === undefined ? 'w' : `w.${counting.def}`;
    case 'concurrency':
      return 'c';
  }
}

/** The warm-flag field of a bucket (also names its seeded applied markers). */
export function warmField(bucket: StoreBucket): string {
  return warmFieldOf(encodeKnownId(bucket.id), countingSignature(bucket.counting));
}

/** warmField from the bucket's encoded id and counting signature. */
export const warmFieldOf = (encodedId: string, signature: string) => `${encodedId}#${signature}`;

/** Concurrency slots are not in the ledger, so they are never cold. */
export const needsWarmth = (bucket: StoreBucket) => bucket.metric !== 'concurrency';
