import type { Logger } from 'pino';
import type { AppConfig } from '../config.js';
import type { Db } from '../db/client.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import type { DemandInput } from './demand.js';
import type { Bucket } from '../domain/buckets.js';
import type { BucketResolver } from './bucket-resolver.js';
import { decide, type Decision } from '../domain/decide.js';
import {
  buildDecisionResponse,
  failOpenResponse,
  type DecisionResponse,
  type ResponseContext,
} from '../domain/decision.js';
import { AppError } from '../domain/errors.js';
import type { WriteBehind } from '../ledger/write-behind.js';
import { bodyHash } from '../reservations/body-hash.js';
import { decodePayload, encodePayload } from '../reservations/payload.js';
import { assertReplayable, recordReplayed, reservationRow } from '../reservations/replay.js';
import { thaw } from '../reservations/thaw.js';
import type { ConfigSnapshot } from '../snapshot/snapshot.js';
import type {
  BucketState,
  CounterStore,
  DecideInput,
  DecideOutcome,
  Reservation,
} from '../store/counter-store.js';
import { recordAdmissions } from './admissions-log.js';
import { markDirty } from '../ledger/dirty-marks.js';
import type { DataPlaneObserver } from './observer.js';
import type { StoreHealth } from '../recovery/store-health.js';
import { toStoreBuckets } from './store-buckets.js';
import { storeGuard } from './store-guard.js';
import { withWarmBuckets, type WarmDeps } from './warm.js';

export interface DecisionDeps extends WarmDeps {
  store: CounterStore;
  db: Db;
  snapshot: () => ConfigSnapshot;
  /** Bucket resolution (plans kept per snapshot), shared with the settle service. */
  resolve: BucketResolver;
  config: AppConfig;
  logger: Logger;
  writeBehind: WriteBehind;
  health: StoreHealth;
  observer: DataPlaneObserver;
}

export interface ReserveInput extends DemandInput {
  requestId: string;
  ttlSeconds: number | null;
}

/** A forward-auth request (SPEC §7.1): no model means a model in no group. */
export interface AuthorizeInput extends Omit<DemandInput, 'model' | 'sessionTtlSeconds'> {
  requestId: string;
  model: string | null;
}

/** How an admission records: /reserve holds everything; /authz holds nothing (SPEC §7.1). */
interface Admission {
  endpoint: 'reserve' | 'authz';
  holdEstimates: boolean;
  /** /authz: no release follows, so a slot would never be given back. */
  withConcurrency: boolean;
}

const RESERVE: Admission = { endpoint: 'reserve', holdEstimates: true, withConcurrency: true };
const AUTHZ: Admission = { endpoint: 'authz', holdEstimates: false, withConcurrency: false };

/**
 * Models are 1–256 characters, so '' is a model in no group: only "all models" limits apply,
 * and the ledger records the request under the empty model.
 */
const NO_MODEL = '';

/** /check, /reserve and /usage: the snapshot and one store call (plus a rebuild when cold). */
export function createDecisionService(deps: DecisionDeps) {
  const { config } = deps;
  const sessionTtlMs = (input: DemandInput) => (input.sessionTtlSeconds ?? config.SESSION_TTL_SECONDS) * 1000;
  const { resolve } = deps;
  const guard = storeGuard(deps);

  async function guarded(
    requestId: string | null,
    run: () => Promise<DecisionResponse>,
  ): Promise<DecisionResponse> {
    try {
      return await guard(run, {
        unavailable: (err) => byFailMode(requestId, 'the counter store is unreachable', err.message),
      });
    } catch (err) {
      // Only a rebuild of cold buckets reads PostgreSQL here; without it they are as unknown
      // as with Redis down (SPEC §4.6).
      if (isDatabaseUnavailable(err)) {
        deps.observer.storeError('postgres', 'unavailable');
        return byFailMode(requestId, 'cold counters cannot be rebuilt: PostgreSQL is unreachable', err);
      }
      throw err;
    }
  }

  /**
   * A new session admission or first-use start lives in Redis and, written behind, in
   * PostgreSQL. A failover that promotes a replica without it keeps that replica's warm
   * flags, so no rebuild would read it back (SPEC §4.4): unless every replica acknowledged
   * it, the user is marked for a rebuild, which waits for the write-behind. Off the answer's
   * path: only these reserves pay the extra round trip, after they are answered.
   */
  async function confirmAdmissions(subject: string): Promise<void> {
    const replicated = await deps.store.replicated(subject).catch(() => false);
    if (replicated) return;
    await markDirty(deps.db, subject).catch((err: unknown) =>
      deps.logger.error({ err, subject }, 'an unreplicated admission could not be marked for rebuild'),
    );
  }

  function byFailMode(requestId: string | null, why: string, cause: unknown): DecisionResponse {
    if (config.FAIL_MODE === 'closed') throw new AppError('store_unavailable', why);
    deps.logger.warn({ err: cause }, `${why}: failing open`);
    deps.observer.failOpen();
    return failOpenResponse(requestId);
  }

  function respond(endpoint: 'check' | Admission['endpoint'], decision: Decision, context?: ResponseContext) {
    if (decision.shadowRefused.length > 0) deps.observer.shadowRefused(endpoint);
    return buildDecisionResponse(decision, context);
  }

  /** One store decision (a dry run when `reserve` is null), rebuilding cold buckets first. */
  async function decideWarm(
    input: DemandInput,
    buckets: Bucket[],
    now: number,
    reserve: DecideInput['reserve'],
  ): Promise<Exclude<DecideOutcome, { kind: 'cold' }>> {
    const storeBuckets = toStoreBuckets(buckets);
    return withWarmBuckets(deps, input.userId, storeBuckets, now, () =>
      deps.store.decide({
        subject: input.userId,
        buckets: storeBuckets,
        now,
        estimate: input.estimateMicros,
        tokenEstimate: { input: input.estimatedInputTokens, output: input.estimatedOutputTokens },
        sessionId: input.sessionId,
        sessionTtlMs: sessionTtlMs(input),
        reserve,
      }),
    );
  }

  async function check(input: DemandInput, now: number): Promise<DecisionResponse> {
    return guarded(null, async () => {
      const { buckets } = resolve(input, now);
      const outcome = await decideWarm(input, buckets, now, null);
      if (outcome.kind !== 'decided') throw new Error('a dry run cannot find a reservation');
      return respond('check', decisionOf(buckets, outcome.states, input, now, outcome.admitted));
    });
  }

  /** /reserve: holds, counts, session admission and slot, atomically (SPEC §4.2). */
  function reserve(input: ReserveInput, now: number): Promise<DecisionResponse> {
    return admit(input, now, RESERVE);
  }

  /**
   * /authz: admits like /reserve for requests and sessions and leaves a reservation with
   * frozen buckets, so a later /settle charges them and counts no second request. Cost and
   * token estimates are checked, never held, and concurrency buckets do not apply.
   */
  function authorize(input: AuthorizeInput, now: number): Promise<DecisionResponse> {
    const demand = { ...input, model: input.model ?? NO_MODEL, sessionTtlSeconds: null, ttlSeconds: null };
    return admit(demand, now, AUTHZ);
  }

  async function admit(input: ReserveInput, now: number, kind: Admission): Promise<DecisionResponse> {
    return guarded(input.requestId, async () => {
      const resolved = resolve(input, now);
      const buckets = kind.withConcurrency
        ? resolved.buckets
        : resolved.buckets.filter((b) => b.metric !== 'concurrency');
      // A /reserve and an /authz of one request id are different requests (a conflict).
      const hash = bodyHash({ ...input, requestId: undefined, ...(kind === AUTHZ ? { authz: true } : {}) });
      const holdTtlMs = (input.ttlSeconds ?? config.RESERVATION_TTL_SECONDS) * 1000;
      const payload = encodePayload({
        userId: input.userId,
        keyId: input.keyId,
        model: input.model,
        modelGroupId: resolved.modelGroup?.id ?? null,
        countedInUserGlobal: resolved.countedInUserGlobal,
        countedInKeyGlobal: resolved.countedInKeyGlobal,
        estimateMicros: input.estimateMicros,
        reservedAt: now,
        buckets,
        sessionId: input.sessionId,
        sessionTtlMs: sessionTtlMs(input),
      });
      const reservation = {
        requestId: input.requestId,
        bodyHash: hash,
        holdTtlMs,
        payload,
        holdEstimates: kind.holdEstimates,
      };
      const outcome = await decideWarm(input, buckets, now, reservation);
      if (outcome.kind === 'existing') return replay(outcome.reservation, hash, input, now);
      const decision = decisionOf(buckets, outcome.states, input, now, outcome.admitted);
      if (!outcome.admitted || !outcome.reservation)
        return respond(kind.endpoint, decision, { requestId: input.requestId });
      const admission = { sessionId: input.sessionId, at: now, ttlMs: sessionTtlMs(input) };
      if (recordAdmissions(deps.writeBehind, buckets, outcome.states, outcome.reservation, admission))
        void confirmAdmissions(input.userId);
      deps.writeBehind.reservation(
        reservationRow(outcome.reservation, { userId: input.userId, reservedAt: now, buckets }),
      );
      // An /authz holds nothing: not an open hold (quotagate_open_holds).
      if (kind.holdEstimates) deps.observer.holdOpened(input.requestId, outcome.reservation.expiresAt);
      return respond(kind.endpoint, decision, {
        requestId: input.requestId,
        reservation: { state: 'held', expiresAt: outcome.reservation.expiresAt },
      });
    });
  }

  /** A retried /reserve: same body → the same reservation, nothing held twice (SPEC §4.5). */
  async function replay(reservation: Reservation, hash: string, input: ReserveInput, now: number) {
    assertReplayable(reservation, hash, input.requestId, now);
    const payload = decodePayload(reservation.payload);
    const buckets = payload ? thaw(payload, now, deps.snapshot()) : [];
    if (payload) recordReplayed(deps.writeBehind, reservation, payload);
    const states = await peekWarm(input.userId, buckets, now, input.sessionId);
    const decision = decisionOf(buckets, states, input, now, true);
    return buildDecisionResponse(decision, {
      requestId: input.requestId,
      reservation: { state: 'held', expiresAt: reservation.expiresAt },
    });
  }

  async function peekWarm(subject: string, buckets: Bucket[], now: number, sessionId: string | null) {
    const storeBuckets = toStoreBuckets(buckets);
    const peeked = await withWarmBuckets(deps, subject, storeBuckets, now, () =>
      deps.store.peek(subject, storeBuckets, now, sessionId),
    );
    return peeked.states;
  }

  /**
   * /usage: every bucket of the subject (in every scope without a model), no side effects.
   * `groups` are the user-group names the gateway vouches for, as in /check.
   */
  async function usage(
    input: { userId: string; keyId: string | null; model: string | null; groups: readonly string[] },
    now: number,
  ) {
    const resolved = resolve(input, now);
    const states = await peekWarm(input.userId, resolved.buckets, now, null);
    const demand = { estimateMicros: 0, sessionId: null };
    return { modelGroup: resolved.modelGroup, decision: decide(resolved.buckets, states, demand, now) };
  }

  return { check, reserve, authorize, usage };
}

export type DecisionService = ReturnType<typeof createDecisionService>;

/** The store's answer (its states and atomic verdict) as a decision: `decide` alone judges. */
function decisionOf(
  buckets: Bucket[],
  states: BucketState[],
  input: DemandInput,
  now: number,
  admitted: boolean,
): Decision {
  const demand = {
    estimateMicros: input.estimateMicros,
    estimatedInputTokens: input.estimatedInputTokens,
    estimatedOutputTokens: input.estimatedOutputTokens,
    sessionId: input.sessionId,
  };
  return decide(buckets, states, demand, now, admitted);
}
