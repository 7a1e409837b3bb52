import type { Bucket } from '../domain/buckets.js';
import { invalid } from '../domain/errors.js';
import { microsToUsd } from '../domain/money.js';
import { isHeldMetric } from '../domain/types.js';
import type { LedgerEntry } from '../ledger/ledger-rows.js';
import type { ReservationPayload } from '../reservations/payload.js';
import { thaw } from '../reservations/thaw.js';
import type { ConfigSnapshot } from '../snapshot/snapshot.js';
import type { BucketResolver } from './bucket-resolver.js';

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
export type ChargePlan = Omit<ReservationPayload, 'v' | 'estimateMicros' | 'reservedAt'> & {
  /** Null for a direct settle: the request is counted when it settles. */
  reservedAt: number | null;
  /** A settle without a reservation counts the request itself. */
  countRequest: boolean;
};

/** The reservation's buckets thawed at `now`; without one, the request's buckets resolved now. */
export function planFor(
  input: SettleInput,
  payload: ReservationPayload | null,
  now: number,
  deps: { resolve: BucketResolver; snapshot: () => ConfigSnapshot },
): ChargePlan {
  if (payload) return { ...payload, buckets: thaw(payload, now, deps.snapshot()), countRequest: false };
  if (!input.userId) throw invalid('userId', 'required when no reservation is known for this requestId');
  if (!input.model) throw invalid('model', 'required when no reservation is known for this requestId');
  const request = { userId: input.userId, keyId: input.keyId, model: input.model, groups: input.groups };
  const resolved = deps.resolve(request, now);
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

/** The answer to a settle recorded now (a repeated one answers from its ledger row). */
export function settledResult(input: SettleInput, plan: ChargePlan, duplicate: boolean): SettleResult {
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

/** The settle's ledger row. `markDirty`: the store is (or was just found) down. */
export function settleEntry(
  input: SettleInput,
  plan: ChargePlan,
  now: number,
  markDirty: boolean,
): LedgerEntry {
  return {
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
    markDirty,
    firstUseMs: firstUseLengths(plan.buckets),
  };
}

/** Buckets the ledger names for a rebuild: spend, tokens and request counts (sessions have their own log). */
const ledgerBuckets = (buckets: Bucket[]) =>
  buckets.filter((b) => isHeldMetric(b.metric) || b.metric === 'requests').map((b) => b.key);

/** The first-use buckets by key, for the ledger to record where the settle may open one. */
const firstUseLengths = (buckets: Bucket[]) =>
  Object.fromEntries(
    buckets.flatMap((b) => (b.counting.mode === 'first_use' ? [[b.key, b.counting.lengthMs]] : [])),
  );
