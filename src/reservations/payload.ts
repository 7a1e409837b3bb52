import type { Bucket } from '../domain/buckets.js';

/**
 * What a reservation remembers, so a settle with only a request id can charge the buckets
 * frozen at reserve time. Stored by the counter store as an opaque string, and in the
 * `reservations` table behind /reserve.
 */
export interface ReservationPayload {
  v: 1;
  userId: string;
  keyId: string | null;
  model: string;
  modelGroupId: number | null;
  countedInUserGlobal: boolean;
  countedInKeyGlobal: boolean;
  estimateMicros: number;
  reservedAt: number;
  buckets: Bucket[];
  /** The admitted session and its active period (absent in records of older versions). */
  sessionId?: string | null;
  sessionTtlMs?: number;
}

export function encodePayload(payload: Omit<ReservationPayload, 'v'>): string {
  return JSON.stringify({ v: 1, ...payload });
}

/** Defensive: a record written by another version, or damaged, reads as "unknown reservation". */
export function decodePayload(raw: string): ReservationPayload | null {
  try {
    const value = JSON.parse(raw) as Partial<ReservationPayload>;
    if (value.v !== 1 || typeof value.userId !== 'string' || !Array.isArray(value.buckets)) return null;
    return value as ReservationPayload;
  } catch {
    return null;
  }
}
