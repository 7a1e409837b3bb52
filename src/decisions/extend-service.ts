import { eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { reservations } from '../db/schema.js';
import { AppError } from '../domain/errors.js';
import { bucketAt } from '../domain/frozen.js';
import type { ConfigSnapshot } from '../snapshot/snapshot.js';
import type { CounterStore } from '../store/counter-store.js';
import { StoreUnavailableError } from '../store/store-errors.js';
import type { DataPlaneObserver } from './observer.js';
import { decodePayload } from './reservation-payload.js';
import type { StoreHealth } from './store-health.js';
import { toStoreBuckets } from './store-buckets.js';

export interface ExtendDeps {
  store: CounterStore;
  db: Db;
  snapshot: () => ConfigSnapshot;
  health: StoreHealth;
  observer: DataPlaneObserver;
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
  async function extend(requestId: string, ttlSeconds: number, now: number): Promise<ExtendResult> {
    const reservation = await ask(() => deps.store.reservation(requestId));
    const payload = reservation && decodePayload(reservation.payload);
    if (!reservation || !payload) return unknown(requestId);
    const expiresAt = now + ttlSeconds * 1000;
    const buckets = toStoreBuckets(payload.buckets.map((b) => bucketAt(b, now, deps.snapshot())));
    const outcome = await ask(() =>
      deps.store.extend({ subject: reservation.subject, requestId, buckets, now, expiresAt }),
    );
    if (outcome.kind === 'unknown') return unknown(requestId);
    if (outcome.kind === 'closed') throw closed(requestId, outcome.state);
    deps.observer.holdOpened(requestId, expiresAt);
    return { requestId, reservation: { state: 'held', expiresAt: new Date(expiresAt).toISOString() } };
  }

  async function ask<T>(run: () => Promise<T>): Promise<T> {
    try {
      const result = await run();
      deps.health.markUp();
      return result;
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      deps.health.markDown();
      deps.observer.storeError('redis', err.reason);
      throw new AppError('store_unavailable', 'the counter store is unreachable; retry the extension');
    }
  }

  /**
   * Redis does not know it. A reservation written behind /reserve was admitted once: its
   * hold is gone (Redis lost it, or it lapsed long ago), so it is closed, not unknown.
   */
  async function unknown(requestId: string): Promise<never> {
    const [row] = await deps.db
      .select({ requestId: reservations.requestId })
      .from(reservations)
      .where(eq(reservations.requestId, requestId))
      .catch(() => []);
    if (row) throw closed(requestId, 'expired');
    throw new AppError('not_found', `no reservation is known for request ${requestId}`);
  }

  return { extend };
}

function closed(requestId: string, state: 'settled' | 'released' | 'expired'): AppError {
  return new AppError('reservation_closed', `reservation ${requestId} is already ${state}`, { state });
}

export type ExtendService = ReturnType<typeof createExtendService>;
