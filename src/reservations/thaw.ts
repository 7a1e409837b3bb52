import type { Bucket } from '../domain/buckets.js';
import { bucketAt, type MarkerSource } from '../domain/frozen.js';
import type { ReservationPayload } from './payload.js';

/**
 * A reservation's frozen buckets as they count at `now`: the limits, caps and windows it
 * was admitted under, in the window of `now`, with the snapshot's latest reset markers
 * (domain/frozen.ts says why). Every use of a reservation after its reserve goes through here.
 */
export function thaw(
  payload: Pick<ReservationPayload, 'buckets'>,
  now: number,
  markers: MarkerSource,
): Bucket[] {
  return payload.buckets.map((b) => bucketAt(b, now, markers));
}
