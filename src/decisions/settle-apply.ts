import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import * as dirtyMarks from '../ledger/dirty-marks.js';
import type { CounterStore } from '../store/counter-store.js';
import type { AlertForwarder } from './alert-forwarder.js';
import type { ChargePlan, SettleInput } from './settle-plan.js';
import type { StoreGuard } from './store-guard.js';
import { toSettleBuckets, toStoreBuckets } from './store-buckets.js';
import { withWarmBuckets, type WarmDeps } from './warm.js';

export interface SettleApplyDeps extends WarmDeps {
  store: CounterStore;
  db: Db;
  alerts: AlertForwarder;
  logger: Logger;
  guard: StoreGuard;
}

/**
 * After the ledger commit: the charge reaches the counter store (idempotent per request
 * id), or a dirty mark stands in for it and the subject is rebuilt from the ledger; the
 * thresholds it crossed move to the alert outbox. See src/ledger/README.md.
 */
export function createSettleApply(deps: SettleApplyDeps) {
  const { store, logger } = deps;

  /**
   * True once the charge reached the store (and its alerts the outbox) or a dirty mark
   * stands in for it: the batch's apply intent may then go.
   */
  async function apply(
    plan: ChargePlan,
    input: SettleInput,
    now: number,
    /** The ledger transaction's xid8 (LedgerOutcome), null when unknown. */
    ledgerXid: string | null,
  ): Promise<boolean> {
    const buckets = toSettleBuckets(plan.buckets);
    // The spend is committed whatever the store answers: a store down or misconfigured
    // leaves the subject to a rebuild from the ledger once it answers again.
    const stranded = () => null;
    const outcome = await deps.guard(
      () =>
        withWarmBuckets(
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
              ledgerXid,
            }),
          { requestId: input.requestId, countsRequest: plan.countRequest },
        ),
      { unavailable: stranded, misconfigured: stranded },
    );
    if (outcome === null) return markDirty(plan.userId);
    // A failover could lose it with its master: the ledger has it, the rebuild restores it.
    if (outcome.kind === 'applied' && outcome.unreplicated) await markDirty(plan.userId);
    // No xid (a COMMIT retried after its outcome was lost): a seed may have counted it as
    // well, so the subject is rebuilt from the ledger, which counts it once.
    else if (outcome.kind === 'applied' && ledgerXid === null) await markDirty(plan.userId);
    return outcome.kind !== 'applied' || (await deps.alerts.forward(plan.userId, outcome.alerts ?? [], now));
  }

  /** A repeated settle frees the hold and slot a dead first apply left; else they lapse. */
  async function freeHold(plan: ChargePlan, requestId: string, now: number): Promise<void> {
    await store
      .release(plan.userId, requestId, toStoreBuckets(plan.buckets), now)
      .catch((err: unknown) =>
        logger.warn({ err, requestId }, 'hold of a repeated settle not freed; it lapses'),
      );
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

  return { apply, freeHold };
}
