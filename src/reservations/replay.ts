import { AppError } from '../domain/errors.js';
import type { WriteBehind } from '../ledger/write-behind.js';
import type { Reservation } from '../store/counter-store.js';
import type { ReservationPayload } from './payload.js';
import type { ReservationRow } from './rows.js';
import { writeSessionAdmissions } from './session-admissions.js';

/**
 * A retried /reserve (SPEC §4.5): the same body answers with the same reservation while it
 * is held; another body is a conflict, a closed one is closed. Throws the problem to answer.
 */
export function assertReplayable(
  reservation: Reservation,
  hash: string,
  requestId: string,
  now: number,
): void {
  if (reservation.bodyHash !== hash) {
    throw new AppError('idempotency_conflict', `request id ${requestId} was reserved with a different body`);
  }
  // A lapsed hold is closed too: answering "held" would send the gateway upstream on nothing.
  const state = reservation.state === 'held' && reservation.expiresAt <= now ? 'expired' : reservation.state;
  if (state !== 'held') {
    throw new AppError('reservation_closed', `reservation ${requestId} is already ${state}`, { state });
  }
}

/**
 * The first attempt's answer may never have come back (a timeout after its script ran):
 * then nothing of it reached PostgreSQL. The replay writes it behind as the first would
 * have, from what the store recorded: the same rows (same instants), so both inserts are
 * idempotent. Session admissions only where the store says the first attempt admitted the
 * session: several first attempts of one session may all have run unanswered, and only one
 * of them was not a reconnect.
 */
export function recordReplayed(
  writeBehind: Pick<WriteBehind, 'reservation' | 'admitted'>,
  reservation: Reservation,
  payload: ReservationPayload,
): void {
  writeBehind.reservation(reservationRow(reservation, payload));
  writeSessionAdmissions(writeBehind, payload.buckets, reservation.newSessions, {
    sessionId: payload.sessionId,
    requestId: reservation.requestId,
    at: payload.reservedAt,
    ttlMs: payload.sessionTtlMs ?? 0,
  });
}

/** The row written behind an admitted reservation: the requests buckets it counted in, its payload. */
export function reservationRow(
  reservation: Reservation,
  payload: Pick<ReservationPayload, 'userId' | 'reservedAt' | 'buckets'>,
): ReservationRow {
  return {
    requestId: reservation.requestId,
    userId: payload.userId,
    reservedAt: new Date(payload.reservedAt),
    expiresAt: new Date(reservation.expiresAt),
    buckets: payload.buckets.filter((b) => b.metric === 'requests').map((b) => b.key),
    payload: reservation.payload,
  };
}
