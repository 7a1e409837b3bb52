import type { Logger } from 'pino';
import type { AppConfig } from '../config.js';
import type { Db } from '../db/client.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { ReservationLookup } from '../ledger/reservation-lookup.js';
import * as dirtyMarks from '../ledger/dirty-marks.js';
import type { ApplyIntents } from '../ledger/apply-intents.js';
import type { Bucket } from '../domain/buckets.js';
import type { BucketResolver } from './bucket-plans.js';
import { AppError, invalid, storeMisconfigured } from '../domain/errors.js';
import { bucketAt } from '../domain/frozen.js';
import { microsToUsd } from '../domain/money.js';
import { isHeldMetric } from '../domain/types.js';
import { findRows, type LedgerEntry, type StoredLedgerRow } from '../ledger/ledger-rows.js';
import type { WriteBehind } from '../ledger/write-behind.js';
import { LATE_APPLY_WINDOW_MS } from '../ledger/rebuild.js';
import { LedgerUnavailableError, type LedgerOutcome, type SettleBatcher } from '../ledger/settle-batcher.js';
import type { ConfigSnapshot } from '../snapshot/snapshot.js';
import type { CounterStore, Reservation } from '../store/counter-store.js';
import { StoreMisconfiguredError, StoreUnavailableError } from '../store/store-errors.js';
import { decodePayload, type ReservationPayload } from './reservation-payload.js';
import type { DataPlaneObserver } from './observer.js';
import type { StoreHealth } from './store-health.js';
import { toSettleBuckets, toStoreBuckets } from './store-buckets.js';
import type { AlertForwarder } from './alert-forwarder.js';
import { withWarmBuckets, type WarmDeps } from './warm.js';

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

export interface SettleInput {
  requestId: string;
  costMicros: number;
  inputTokens: number;
  outputTokens: number;
  metadata: Record<string, unknown> | null;
  /** Needed only when no reservation is known for the request id. */
  userId: string | null;
  keyId: string | null;
  model: string | null;
  groups: string[];
}

export interface SettleResult {
  requestId: string;
  status: 'settled';
  duplicate: boolean;
  costUsd: number;
  countedInUserGlobal: boolean;
  countedInKeyGlobal: boolean;
  buckets: string[];
}

/** What a settle charges: the reservation's frozen buckets, or buckets resolved now. */
type ChargePlan = Omit<ReservationPayload, 'v' | 'estimateMicros' | 'reservedAt'> & {
  /** Null for a direct settle: the request is counted when it settles. */
  reservedAt: number | null;
  /** A settle without a reservation counts the request itself. */
  countRequest: boolean;
};

/** Buckets the ledger names for a rebuild: spend, tokens and request counts (sessions have their own log). */
const ledgerBuckets = (buckets: Bucket[]) =>
  buckets.filter((b) => isHeldMetric(b.metric) || b.metric === 'requests').map((b) => b.key);

/** The first-use buckets by key, for the ledger to record where the settle may open one. */
const firstUseLengths = (buckets: Bucket[]) =>
  Object.fromEntries(
    buckets.flatMap((b) => (b.counting.mode === 'first_use' ? [[b.key, b.counting.lengthMs]] : [])),
  );

/** Keys read `axis:owner|scope|metric|slot`; owners are percent-encoded, so `|` only separates. */
const isCostBucket = (key: string) => key.split('|')[2] === 'cost';

/**
 * /settle and /release. The ledger row commits to PostgreSQL before the answer; the charge
 * then reaches the counter store, idempotent per request id. A settle is never refused for
 * quota: the spend happened.
 */
export function createSettleService(deps: SettleDeps) {
  const { store, logger } = deps;
  const lookup = new ReservationLookup(deps.db);
  const { resolve } = deps;

  /** The reservation, or null; `down` tells whether the store could not be asked. */
  async function lookUp(requestId: string): Promise<{ reservation: Reservation | null; down: boolean }> {
    try {
      const reservation = await store.reservation(requestId);
      deps.health.markUp();
      return { reservation, down: false };
    } catch (err) {
      if (err instanceof StoreMisconfiguredError) throw misconfigured(err);
      if (!(err instanceof StoreUnavailableError)) throw err;
      deps.health.markDown();
      deps.observer.storeError('redis', err.reason);
      return { reservation: null, down: true };
    }
  }

  /** Logged loudly and kept for /readyz: the store's answer cannot be guessed. */
  function misconfigured(err: StoreMisconfiguredError): AppError {
    deps.health.recordMisconfigured(err, logger);
    deps.observer.storeError('redis', err.reason);
    return storeMisconfigured();
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

  function planFor(input: SettleInput, payload: ReservationPayload | null, now: number): ChargePlan {
    if (payload) {
      return {
        ...payload,
        buckets: payload.buckets.map((b) => bucketAt(b, now, deps.snapshot())),
        countRequest: false,
      };
    }
    if (!input.userId) throw invalid('userId', 'required when no reservation is known for this requestId');
    if (!input.model) throw invalid('model', 'required when no reservation is known for this requestId');
    const request = { userId: input.userId, keyId: input.keyId, model: input.model, groups: input.groups };
    const resolved = resolve(request, now);
    return {
      ...request,
      modelGroupId: resolved.modelGroup?.id ?? null,
      countedInUserGlobal: resolved.countedInUserGlobal,
      countedInKeyGlobal: resolved.countedInKeyGlobal,
      buckets: resolved.buckets,
      reservedAt: null,
      countRequest: true,
    };
  }

  async function record(entry: LedgerEntry): Promise<LedgerOutcome> {
    try {
      return await deps.batcher.submit(entry);
    } catch (err) {
      if (err instanceof LedgerUnavailableError) {
        deps.observer.storeError('postgres', 'unavailable');
        throw new AppError('database_unavailable', 'the usage ledger is unreachable; retry the settle');
      }
      throw err;
    }
  }

  /**
   * Applies the charge to the counter store; if it cannot, the subject is rebuilt later.
   * True once the charge reached the store or a dirty mark stands in for it.
   */
  async function freeHold(plan: ChargePlan, requestId: string, now: number): Promise<void> {
    await store
      .release(plan.userId, requestId, toStoreBuckets(plan.buckets), now)
      .catch((err: unknown) =>
        logger.warn({ err, requestId }, 'hold of a repeated settle not freed; it lapses'),
      );
  }

  async function apply(plan: ChargePlan, input: SettleInput, now: number): Promise<boolean> {
    const buckets = toSettleBuckets(plan.buckets);
    try {
      const outcome = await withWarmBuckets(
        deps,
        plan.userId,
        buckets,
        now,
        () =>
          store.settle({
            subject: plan.userId,
            requestId: input.requestId,
            buckets,
            now,
            cost: input.costMicros,
            tokens: { input: input.inputTokens, output: input.outputTokens },
            countRequest: plan.countRequest,
          }),
        { requestId: input.requestId, countsRequest: plan.countRequest },
      );
      deps.health.markUp();
      // A failover could lose it with its master: the ledger has it, the rebuild restores it.
      if (outcome.kind === 'applied' && outcome.unreplicated) await markDirty(plan.userId);
      return (
        outcome.kind !== 'applied' || (await deps.alerts.forward(plan.userId, outcome.alerts ?? [], now))
      );
    } catch (err) {
      if (err instanceof StoreMisconfiguredError) {
        // The spend is committed: the subject rebuilds from the ledger once the store is fixed.
        misconfigured(err);
        return markDirty(plan.userId);
      }
      if (!(err instanceof StoreUnavailableError)) throw err;
      deps.health.markDown();
      deps.observer.storeError('redis', err.reason);
      return markDirty(plan.userId);
    }
  }

  /** False when PostgreSQL refused too: the batch's apply intent then stays for a sweep. */
  async function markDirty(subject: string): Promise<boolean> {
    try {
      await dirtyMarks.markDirty(deps.db, subject);
      return true;
    } catch (err) {
      logger.error({ err, subject }, 'could not mark subject dirty; its apply intent will');
      return false;
    }
  }

  async function settle(input: SettleInput, now: number): Promise<SettleResult> {
    const { reservation, down } = await lookUp(input.requestId);
    const payload =
      (reservation && decodePayload(reservation.payload)) ?? (await durablePayload(input.requestId));
    if (!payload && (!input.userId || !input.model)) {
      // A retry whose reservation record is gone (Redis lost it, or it lapsed): the ledger knows it.
      const row = (await findRows(deps.db, [input.requestId])).get(input.requestId);
      if (row?.status === 'settled') return repeated(input, row);
      // Redis may hold its reservation: a 400 would make the gateway drop the spend (SPEC §4.2).
      if (down) throw new AppError('store_unavailable', 'the counter store is unreachable; retry the settle');
    }
    const plan = planFor(input, payload, now);
    const outcome = await recordSettle(input, plan, now, down);
    if (outcome.kind === 'invalid') throw unrecorded();
    const duplicate = outcome.kind === 'exists';
    const answer = duplicate ? repeated(input, outcome.row) : null;
    // A duplicate never charges: the first settle's apply intent (or dirty mark) already
    // guarantees its charge reaches the counters, directly or by a rebuild from the ledger,
    // and after a loss of Redis data a second charge would count it twice. Within the
    // marker window it frees the hold and slot a dead first apply left behind (a release:
    // it must not mark the request settled before the first apply charges it).
    const fresh = !duplicate || now - outcome.row.settledAt.getTime() < LATE_APPLY_WINDOW_MS;
    if (duplicate && fresh && !down && !plan.countRequest) await freeHold(plan, input.requestId, now);
    const applied = !duplicate && !down ? await apply(plan, input, now) : true;
    if (applied && outcome.intent !== undefined) deps.intents.finished(outcome.intent);
    // Only a reservation held anything; a direct settle has no hold to close.
    if (!plan.countRequest) deps.observer.holdClosed(input.requestId);
    if (answer) return answer;
    return {
      requestId: input.requestId,
      status: 'settled',
      duplicate,
      costUsd: microsToUsd(input.costMicros),
      countedInUserGlobal: plan.countedInUserGlobal,
      countedInKeyGlobal: plan.countedInKeyGlobal,
      buckets: plan.buckets.filter((b) => b.metric === 'cost').map((b) => b.key),
    };
  }

  /**
   * The ledger row of a settle. A request id the ledger holds from an earlier reservation
   * (reused after its record expired) is a new request, not a retry: its spend is recorded
   * under the id suffixed with its reservation time, so it is never dropped as a duplicate.
   */
  async function recordSettle(
    input: SettleInput,
    plan: ChargePlan,
    now: number,
    down: boolean,
  ): Promise<LedgerOutcome> {
    const entry: LedgerEntry = {
      requestId: input.requestId,
      userId: plan.userId,
      keyId: plan.keyId,
      model: plan.model,
      modelGroupId: plan.modelGroupId,
      costMicros: input.costMicros,
      inputTokens: input.inputTokens,
      outputTokens: input.outputTokens,
      countedInUserGlobal: plan.countedInUserGlobal,
      countedInKeyGlobal: plan.countedInKeyGlobal,
      buckets: ledgerBuckets(plan.buckets),
      status: 'settled',
      reservedAt: plan.reservedAt === null ? null : new Date(plan.reservedAt),
      settledAt: new Date(now),
      metadata: input.metadata,
      markDirty: down || deps.health.isDown,
      firstUseMs: firstUseLengths(plan.buckets),
    };
    const outcome = await record(entry);
    const reused =
      outcome.kind === 'exists' &&
      plan.reservedAt !== null &&
      outcome.row.reservedAt !== null &&
      outcome.row.reservedAt.getTime() !== plan.reservedAt;
    if (!reused) return outcome;
    return record({ ...entry, requestId: `${input.requestId}~${plan.reservedAt}` });
  }

  /** A settle the ledger already holds: the first result with `duplicate: true`, or 409 for another cost. */
  function repeated(input: SettleInput, row: StoredLedgerRow): SettleResult {
    if (
      row.costMicros !== input.costMicros ||
      row.inputTokens !== input.inputTokens ||
      row.outputTokens !== input.outputTokens
    ) {
      throw new AppError(
        'idempotency_conflict',
        `request ${input.requestId} was settled with another cost or token count`,
        {
          costUsd: microsToUsd(row.costMicros),
          inputTokens: row.inputTokens,
          outputTokens: row.outputTokens,
        },
      );
    }
    return {
      requestId: input.requestId,
      status: 'settled',
      duplicate: true,
      costUsd: microsToUsd(row.costMicros),
      countedInUserGlobal: row.countedInUserGlobal,
      countedInKeyGlobal: row.countedInKeyGlobal,
      buckets: row.buckets.filter(isCostBucket),
    };
  }

  async function release(requestId: string, now: number): Promise<{ requestId: string; state: 'released' }> {
    const { reservation, down } = await lookUp(requestId);
    if (down) throw new AppError('store_unavailable', 'the counter store is unreachable; retry the release');
    const payload = reservation ? decodePayload(reservation.payload) : null;
    if (!reservation || !payload)
      throw new AppError('not_found', `no reservation is known for request ${requestId}`);
    if (reservation.state === 'settled') throw alreadySettled(requestId);
    if (reservation.state === 'released') return { requestId, state: 'released' };
    await recordRelease(requestId, payload, now);
    await releaseInStore(requestId, payload, now);
    deps.observer.holdClosed(requestId);
    return { requestId, state: 'released' };
  }

  const alreadySettled = (requestId: string) =>
    new AppError('reservation_closed', `reservation ${requestId} is already settled`, { state: 'settled' });

  /** Frees the hold and slot; the store's failures are told apart as a lookup's are. */
  async function releaseInStore(requestId: string, payload: ReservationPayload, now: number): Promise<void> {
    const buckets = toStoreBuckets(payload.buckets.map((b) => bucketAt(b, now, deps.snapshot())));
    try {
      await store.release(payload.userId, requestId, buckets, now);
      deps.health.markUp();
    } catch (err) {
      if (err instanceof StoreMisconfiguredError) throw misconfigured(err);
      if (!(err instanceof StoreUnavailableError)) throw err;
      deps.health.markDown();
      deps.observer.storeError('redis', err.reason);
      // The ledger row is written: a retry finds it and frees the hold then.
      throw new AppError('store_unavailable', 'the counter store is unreachable; retry the release');
    }
  }

  /**
   * The request stays counted after a release; its ledger row keeps that true after a loss
   * of Redis. Best effort: a release must work while PostgreSQL is away.
   */
  async function recordRelease(requestId: string, payload: ReservationPayload, now: number) {
    try {
      const outcome = await deps.batcher.submit({
        requestId,
        userId: payload.userId,
        keyId: payload.keyId,
        model: payload.model,
        modelGroupId: payload.modelGroupId,
        costMicros: 0,
        inputTokens: 0,
        outputTokens: 0,
        countedInUserGlobal: payload.countedInUserGlobal,
        countedInKeyGlobal: payload.countedInKeyGlobal,
        buckets: payload.buckets.filter((b) => b.metric === 'requests').map((b) => b.key),
        status: 'released',
        reservedAt: payload.reservedAt === null ? null : new Date(payload.reservedAt),
        settledAt: new Date(now),
        metadata: null,
        markDirty: false,
      });
      if (outcome.kind === 'invalid') throw unrecorded();
      if (outcome.kind === 'exists' && outcome.row.status === 'settled') throw alreadySettled(requestId);
    } catch (err) {
      if (!(err instanceof LedgerUnavailableError)) throw err;
      logger.warn({ requestId }, 'release not recorded in the ledger (PostgreSQL unreachable)');
    }
  }

  return { settle, release };
}

export type SettleService = ReturnType<typeof createSettleService>;

/**
 * The ledger refused the row (the batcher logged why): no validation of ours foresaw it, so
 * it is our fault, answered without the database's words, which may quote the values.
 */
const unrecorded = () => new AppError('internal_error', 'an internal error occurred');
