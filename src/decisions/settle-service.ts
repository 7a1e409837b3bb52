import type { Logger } from 'pino';
import type { AppConfig } from '../config.js';
import type { Db } from '../db/client.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { AppError } from '../domain/errors.js';
import type { ApplyIntents } from '../ledger/apply-intents.js';
import type { SettleBatcher } from '../ledger/settle-batcher.js';
import type { WriteBehind } from '../ledger/write-behind.js';
import { ReservationLookup } from '../reservations/lookup.js';
import { decodePayload, type ReservationPayload } from '../reservations/payload.js';
import { thaw } from '../reservations/thaw.js';
import type { ConfigSnapshot } from '../snapshot/snapshot.js';
import type { CounterStore, Reservation } from '../store/counter-store.js';
import type { AlertForwarder } from './alert-forwarder.js';
import type { BucketResolver } from './bucket-resolver.js';
import type { DataPlaneObserver } from './observer.js';
import { createSettleApply } from './settle-apply.js';
import {
  alreadySettled,
  createSettleLedger,
  repeated,
  unrecorded,
  withinLateApply,
} from './settle-idempotency.js';
import { planFor, settledResult, settleEntry, type SettleInput, type SettleResult } from './settle-plan.js';
import { storeGuard } from './store-guard.js';
import type { StoreHealth } from '../recovery/store-health.js';
import { toStoreBuckets } from './store-buckets.js';
import type { WarmDeps } from './warm.js';

export type { SettleInput, SettleResult } from './settle-plan.js';

export interface SettleDeps extends WarmDeps {
  store: CounterStore;
  db: Db;
  batcher: SettleBatcher;
  intents: ApplyIntents;
  alerts: AlertForwarder;
  writeBehind: WriteBehind;
  snapshot: () => ConfigSnapshot;
  /** Bucket resolution of direct settles (plans kept per snapshot). */
  resolve: BucketResolver;
  config: AppConfig;
  logger: Logger;
  health: StoreHealth;
  observer: DataPlaneObserver;
}

const unreachable = (what: string) =>
  new AppError('store_unavailable', `the counter store is unreachable; retry the ${what}`);

/**
 * /settle and /release. The ledger row commits to PostgreSQL before the answer; the charge
 * then reaches the counter store, idempotent per request id (src/ledger/README.md). A
 * settle is never refused for quota: the spend happened.
 */
export function createSettleService(deps: SettleDeps) {
  const { store } = deps;
  const lookup = new ReservationLookup(deps.db);
  const guard = storeGuard(deps);
  const ledger = createSettleLedger(deps);
  const { apply, freeHold } = createSettleApply({ ...deps, guard });

  /** The reservation, or null; `down` tells whether the store could not be asked. */
  function lookUp(requestId: string): Promise<{ reservation: Reservation | null; down: boolean }> {
    const asked = async () => ({ reservation: await store.reservation(requestId), down: false });
    return guard<{ reservation: Reservation | null; down: boolean }>(asked, {
      unavailable: () => ({ reservation: null, down: true }),
    });
  }

  /**
   * The reservation's payload when Redis lost or dropped its record (a loss of data, or a
   * settle long after the hold lapsed): the row written behind /reserve (SPEC §4.5).
   */
  async function durablePayload(requestId: string): Promise<ReservationPayload | null> {
    try {
      const payload = await lookup.payloadOf(requestId);
      return payload === null ? null : decodePayload(payload);
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      deps.observer.storeError('postgres', 'unavailable');
      throw new AppError('database_unavailable', 'the usage ledger is unreachable; retry the settle');
    }
  }

  async function settle(input: SettleInput, now: number): Promise<SettleResult> {
    const { reservation, down } = await lookUp(input.requestId);
    const payload =
      (reservation && decodePayload(reservation.payload)) ?? (await durablePayload(input.requestId));
    if (!payload && (!input.userId || !input.model)) {
      const before = await ledger.settledBefore(input);
      if (before) return before;
      // Redis may hold its reservation: a 400 would make the gateway drop the spend (SPEC §4.2).
      if (down) throw unreachable('settle');
    }
    const plan = planFor(input, payload, now, deps);
    const entry = settleEntry(input, plan, now, down || deps.health.isDown);
    const outcome = await ledger.recordSettle(entry, plan.reservedAt);
    if (outcome.kind === 'invalid') throw unrecorded();
    const duplicate = outcome.kind === 'exists';
    const answer = duplicate ? repeated(input, outcome.row) : null;
    // A duplicate never charges (settle-idempotency.ts); a fresh one frees what a dead first apply held.
    const fresh = !duplicate || withinLateApply(outcome.row, now);
    if (duplicate && fresh && !down && !plan.countRequest) await freeHold(plan, input.requestId, now);
    const xid = outcome.kind === 'written' ? (outcome.xid ?? null) : null;
    const applied = !duplicate && !down ? await apply(plan, input, now, xid) : true;
    if (applied && outcome.intent !== undefined) deps.intents.finished(outcome.intent);
    // Only a reservation held anything; a direct settle has no hold to close.
    if (!plan.countRequest) deps.observer.holdClosed(input.requestId);
    return answer ?? settledResult(input, plan, duplicate);
  }

  async function release(requestId: string, now: number): Promise<{ requestId: string; state: 'released' }> {
    const { reservation, down } = await lookUp(requestId);
    if (down) throw unreachable('release');
    const payload = reservation ? decodePayload(reservation.payload) : null;
    if (!reservation || !payload)
      throw new AppError('not_found', `no reservation is known for request ${requestId}`);
    if (reservation.state === 'settled') throw alreadySettled(requestId);
    if (reservation.state === 'released') return { requestId, state: 'released' };
    await ledger.recordRelease(requestId, payload, now);
    await releaseInStore(requestId, payload, now);
    deps.observer.holdClosed(requestId);
    return { requestId, state: 'released' };
  }

  /**
   * Frees the hold and slot. A settle may have closed the reservation since the lookup (its
   * ledger row turns this release's into a settle): the store then answers
   * `already_applied`, and the record tells a settle from a concurrent release.
   */
  async function releaseInStore(requestId: string, payload: ReservationPayload, now: number): Promise<void> {
    const buckets = toStoreBuckets(thaw(payload, now, deps.snapshot()));
    // The ledger row is written: a retry finds it and frees the hold then.
    const retry = 'release';
    const outcome = await guard(() => store.release(payload.userId, requestId, buckets, now), { retry });
    if (outcome.kind !== 'already_applied') return;
    const closed = await guard(() => store.reservation(requestId), { retry });
    if (closed?.state === 'settled') throw alreadySettled(requestId);
  }

  return { settle, release };
}

export type SettleService = ReturnType<typeof createSettleService>;
