import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { parseBucketKey } from '../domain/bucket-key.js';
import { AppError } from '../domain/errors.js';
import { microsToUsd } from '../domain/money.js';
import { findRows, type LedgerEntry, type StoredLedgerRow } from '../ledger/ledger-rows.js';
import { LedgerUnavailableError, type LedgerOutcome, type SettleBatcher } from '../ledger/settle-batcher.js';
import type { ReservationPayload } from '../reservations/payload.js';
import { LATE_APPLY_WINDOW_MS } from '../store/store-constants.js';
import type { DataPlaneObserver } from './observer.js';
import type { SettleInput, SettleResult } from './settle-plan.js';

export interface SettleLedgerDeps {
  db: Db;
  batcher: SettleBatcher;
  observer: DataPlaneObserver;
  logger: Logger;
}

const isCostBucket = (key: string) => parseBucketKey(key)?.metric === 'cost';

/**
 * The ledger is the idempotency record of settles and releases (SPEC §4.5): one row per
 * request id, committed before the answer. Here are its rules: a repeated settle answers
 * the first, another cost is a conflict, a reused request id is a new request, a release
 * after a settle is closed.
 */
export function createSettleLedger(deps: SettleLedgerDeps) {
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
   * The ledger row of a settle. A request id the ledger holds from an earlier reservation
   * (reused after its record expired) is a new request, not a retry: its spend is recorded
   * under the id suffixed with its reservation time, so it is never dropped as a duplicate.
   */
  async function recordSettle(entry: LedgerEntry, reservedAt: number | null): Promise<LedgerOutcome> {
    const outcome = await record(entry);
    const reused =
      outcome.kind === 'exists' &&
      reservedAt !== null &&
      outcome.row.reservedAt !== null &&
      outcome.row.reservedAt.getTime() !== reservedAt;
    if (!reused) return outcome;
    return record({ ...entry, requestId: `${entry.requestId}~${reservedAt}` });
  }

  /** A retry whose reservation record is gone (Redis lost it, or it lapsed): the ledger's answer, if settled. */
  async function settledBefore(input: SettleInput): Promise<SettleResult | null> {
    const row = (await findRows(deps.db, [input.requestId])).get(input.requestId);
    return row?.status === 'settled' ? repeated(input, row) : null;
  }

  /**
   * The request stays counted after a release; its ledger row keeps that true after a loss
   * of Redis. Best effort: a release must work while PostgreSQL is away.
   */
  async function recordRelease(requestId: string, payload: ReservationPayload, now: number): Promise<void> {
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
      deps.logger.warn({ requestId }, 'release not recorded in the ledger (PostgreSQL unreachable)');
    }
  }

  return { recordSettle, settledBefore, recordRelease };
}

export type SettleLedger = ReturnType<typeof createSettleLedger>;

/** A settle the ledger already holds: the first result with `duplicate: true`, or 409 for another cost. */
export function repeated(input: SettleInput, row: StoredLedgerRow): SettleResult {
  if (
    row.costMicros !== input.costMicros ||
    row.inputTokens !== input.inputTokens ||
    row.outputTokens !== input.outputTokens
  ) {
    throw new AppError(
      'idempotency_conflict',
      `request ${input.requestId} was settled with another cost or token count`,
      { costUsd: microsToUsd(row.costMicros), inputTokens: row.inputTokens, outputTokens: row.outputTokens },
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

/**
 * A duplicate never charges: the first settle's apply intent (or dirty mark) already
 * guarantees its charge reaches the counters, directly or by a rebuild from the ledger,
 * and after a loss of Redis data a second charge would count it twice. Within the marker
 * window it frees the hold and slot a dead first apply left behind (a release: it must not
 * mark the request settled before the first apply charges it).
 */
export const withinLateApply = (row: StoredLedgerRow, now: number) =>
  now - row.settledAt.getTime() < LATE_APPLY_WINDOW_MS;

export const alreadySettled = (requestId: string) =>
  new AppError('reservation_closed', `reservation ${requestId} is already settled`, { state: 'settled' });

/**
 * The ledger refused the row (the batcher logged why): no validation of ours foresaw it, so
 * it is our fault, answered without the database's words, which may quote the values.
 */
export const unrecorded = () => new AppError('internal_error', 'an internal error occurred');
