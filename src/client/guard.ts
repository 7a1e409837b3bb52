import { randomUUID } from 'node:crypto';
import { QuotaError, QuotaUnavailableError } from './errors.js';
import type {
  Decision,
  ExtendResult,
  ReleaseResult,
  ReserveRequest,
  SettleRequest,
  SettleResult,
} from './types.js';

/** What to reserve: a /reserve body whose `requestId` is generated (crypto.randomUUID) when absent. */
export type GuardDemand = Omit<ReserveRequest, 'requestId'> & { requestId?: string };

/** What the guarded call is given: its request id and a way to keep its hold alive. */
export interface GuardReservation {
  requestId: string;
  /** The /reserve decision; null when quotagate was unreachable and failMode 'open' let the call run. */
  decision: Decision | null;
  /** true: running without a quota decision (quotagate unreachable, or its store down). */
  failOpen: boolean;
  /** Pushes the hold's expiry to now + `ttlSeconds`; resolves null (and calls nothing) when nothing is held. */
  extend(ttlSeconds: number): Promise<ExtendResult | null>;
}

/** What the call reports: its result for the caller, and what it spent (the settle's fields). */
export interface GuardUsage {
  costUsd: SettleRequest['costUsd'];
  inputTokens?: number;
  outputTokens?: number;
  metadata?: Record<string, unknown>;
}
export type GuardCall<T> = (reservation: GuardReservation) => Promise<{ result: T; usage: GuardUsage }>;

export interface GuardAdmitted<T> {
  allowed: true;
  requestId: string;
  result: T;
  decision: Decision | null;
  failOpen: boolean;
  /** The settle's answer; null when the settle failed (`settleError`, also passed to onError). */
  settlement: SettleResult | null;
  settleError: QuotaError | null;
}
export interface GuardRefused {
  allowed: false;
  requestId: string;
  decision: Decision;
}
export type GuardOutcome<T> = GuardAdmitted<T> | GuardRefused;

/** The client calls guard needs: /reserve without the fail-open fallback, so guard applies it. */
export interface GuardPort {
  reserve(body: ReserveRequest): Promise<Decision>;
  settle(body: SettleRequest): Promise<SettleResult>;
  release(requestId: string): Promise<ReleaseResult>;
  extend(requestId: string, ttlSeconds: number): Promise<ExtendResult>;
  failMode: 'open' | 'closed';
  report(error: QuotaError, operation: string): void;
}

export async function guard<T>(
  port: GuardPort,
  demand: GuardDemand,
  call: GuardCall<T>,
): Promise<GuardOutcome<T>> {
  const requestId = demand.requestId ?? randomUUID();
  let decision: Decision | null = null;
  try {
    decision = await port.reserve({ ...demand, requestId });
  } catch (error) {
    if (!(error instanceof QuotaUnavailableError) || port.failMode === 'closed') throw error;
    port.report(error, 'reserve');
  }
  if (decision && !decision.allowed) return { allowed: false, requestId, decision };

  const held = decision?.reservation?.state === 'held';
  const failOpen = decision === null || decision.failOpen;
  const reservation: GuardReservation = {
    requestId,
    decision,
    failOpen,
    extend: (ttlSeconds) => (held ? port.extend(requestId, ttlSeconds) : Promise.resolve(null)),
  };

  let reported: Awaited<ReturnType<GuardCall<T>>>;
  try {
    reported = await call(reservation);
  } catch (error) {
    // The hold would lapse on its own; releasing frees the slot and the estimate now.
    if (held) await port.release(requestId).catch((e: unknown) => port.report(asQuotaError(e), 'release'));
    throw error;
  }

  // The subject goes with the settle so that it lands as a direct settle when quotagate
  // has no reservation (fail-open, or Redis lost it); while the reservation is known the
  // server ignores these fields.
  const { userId, keyId, model, groups } = demand;
  const body: SettleRequest = { requestId, ...reported.usage, userId, keyId, model, groups };
  const admitted = { allowed: true as const, requestId, result: reported.result, decision, failOpen };
  try {
    return { ...admitted, settlement: await port.settle(body), settleError: null };
  } catch (error) {
    // The upstream call already happened and its result is the caller's: a lost settle is
    // reported, not thrown.
    const settleError = asQuotaError(error);
    port.report(settleError, 'settle');
    return { ...admitted, settlement: null, settleError };
  }
}

function asQuotaError(error: unknown): QuotaError {
  return error instanceof QuotaError ? error : new QuotaError(String(error), { cause: error });
}
