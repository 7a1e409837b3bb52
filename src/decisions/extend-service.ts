import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { AppError } from '../domain/errors.js';
import { decodePayload } from '../reservations/payload.js';
import { isRecorded } from '../reservations/rows.js';
import { thaw } from '../reservations/thaw.js';
import type { ConfigSnapshot } from '../snapshot/snapshot.js';
import type { CounterStore } from '../store/counter-store.js';
import type { DataPlaneObserver } from './observer.js';
import { storeGuard } from './store-guard.js';
import type { StoreHealth } from '../recovery/store-health.js';
import { toStoreBuckets } from './store-buckets.js';

export interface ExtendDeps {
  store: CounterStore;
  db: Db;
  snapshot: () => ConfigSnapshot;
  health: StoreHealth;
  observer: DataPlaneObserver;
  logger: Logger;
}

export interface ExtendResult {
  requestId: string;
  reservation: { state: 'held'; expiresAt: string };
}

/**
 * POST /extend (SPEC §4.2): a long stream keeps its hold and concurrency slot; the new
 * expiry is now + ttl. Idempotent: the same call again sets the same kind of expiry.
 */
export function createExtendService(deps: ExtendDeps) {
  const guard = storeGuard(deps);
  const retry = 'extension';

  async function extend(requestId: string, ttlSeconds: number, now: number): Promise<ExtendResult> {
    const reservation = await guard(() => deps.store.reservation(requestId), { retry });
    const payload = reservation && decodePayload(reservation.payload);
    if (!reservation || !payload) return unknown(requestId);
    const expiresAt = now + ttlSeconds * 1000;
    const buckets = toStoreBuckets(thaw(payload, now, deps.snapshot()));
    const outcome = await guard(
      () => deps.store.extend({ subject: reservation.subject, requestId, buckets, now, expiresAt }),
      { retry },
    );
    if (outcome.kind === 'unknown') return unknown(requestId);
    if (outcome.kind === 'closed') throw closed(requestId, outcome.state);
    deps.observer.holdOpened(requestId, expiresAt);
    return { requestId, reservation: { state: 'held', expiresAt: new Date(expiresAt).toISOString() } };
  }

  /**
   * Redis does not know it. A reservation written behind /reserve was admitted once: its
   * hold is gone (Redis lost it, or it lapsed long ago), so it is closed, not unknown.
   */
  async function unknown(requestId: string): Promise<never> {
    if (await isRecorded(deps.db, requestId).catch(() => false)) throw closed(requestId, 'expired');
    throw new AppError('not_found', `no reservation is known for request ${requestId}`);
  }

  return { extend };
}

function closed(requestId: string, state: 'settled' | 'released' | 'expired'): AppError {
  return new AppError('reservation_closed', `reservation ${requestId} is already ${state}`, { state });
}

export type ExtendService = ReturnType<typeof createExtendService>;
