import { countingWindow } from '../../domain/counting.js';
import { warmField } from '../counting-signature.js';
import type {
  ApplyOutcome,
  BucketState,
  ColdOutcome,
  CounterStore,
  DecideInput,
  DecideOutcome,
  ExtendInput,
  ExtendOutcome,
  Reservation,
  SettleInput,
  StoreBucket,
  StoredAlert,
  SubjectSeed,
} from '../counter-store.js';
import { heldAmounts } from '../counter-store.js';
import { amountOf, type HeldAmounts } from '../../domain/types.js';
import { APPLIED_MARKER_TTL_MS, RESERVATION_GRACE_MS, WARM_TTL_MS } from '../store-constants.js';
import {
  assertDecideInput,
  assertExtend,
  assertId,
  assertPeek,
  assertRelease,
  assertSeed,
  assertSettleInput,
} from '../validate.js';
import { bucketAdmits } from './admission.js';
import { bucketState, charge, coldOutcome, extendRequest, releaseRequest } from './bucket-ops.js';
import { recordReservation } from './reserve.js';
import { pruneSubject } from './prune.js';
import { readUsage } from './usage.js';
import { formatAlert, parseAlerts } from '../alert-entries.js';
import { applySeed, seededWith } from './seed.js';
import { emptySubject, type SubjectData } from './subject-data.js';

export interface MemoryStoreOptions {
  /** How often what Redis would expire by TTL is swept (default a minute). */
  pruneIntervalMs?: number;
}

/**
 * The counter store in process (embedded mode: one instance, no Redis). The semantics of the
 * Redis adapter over plain Maps; every operation runs synchronously, so it is atomic.
 * As in Redis, holds, slots, sessions and windows are judged by each call's `now`, while
 * what Redis expires by TTL (records, pointers, applied markers, warm flags) is swept
 * periodically, by the latest `now` seen.
 */
/** settle.lua's note_crossings: thresholds this charge moved `used` from below to at or above. */
function crossings(
  data: SubjectData,
  bucket: StoreBucket,
  before: number,
  requestId: string,
  now: number,
): StoredAlert[] {
  if (!bucket.alerts) return [];
  const { context, thresholds } = bucket.alerts;
  const reading = readUsage(data.usage.get(warmField(bucket)), bucket, now);
  const resetAt = countingWindow(bucket.counting, now, reading.firstUseStart).windowEnd;
  return thresholds.flatMap((t, threshold) => {
    if (!(before < t && t <= reading.used)) return [];
    const alert = { context, threshold, used: reading.used, resetAt, requestId, at: now };
    return [{ ...alert, raw: formatAlert(alert) }];
  });
}

/** Each bucket's state with its verdict on the demand, judged before anything is recorded. */
function judged(
  data: SubjectData,
  buckets: readonly StoreBucket[],
  now: number,
  sessionId: string | null,
  estimates: HeldAmounts,
): BucketState[] {
  return buckets.map((b) => {
    const state = bucketState(data, b, now, sessionId);
    return { ...state, admits: bucketAdmits(b, state, estimates, sessionId) };
  });
}

export class MemoryCounterStore implements CounterStore {
  readonly kind = 'memory';
  private readonly subjects = new Map<string, SubjectData>();
  private readonly pointers = new Map<string, { subject: string; dropAt: number }>();
  private latestNow = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(options: MemoryStoreOptions = {}) {
    this.timer = setInterval(() => this.prune(), options.pruneIntervalMs ?? 60_000);
    this.timer.unref();
  }

  async decide(input: DecideInput): Promise<DecideOutcome> {
    assertDecideInput(input);
    const { reserve, now } = input;
    const data = this.subjectAt(input.subject, now);
    const own = reserve && this.storedReservation(input.subject, reserve.requestId);
    if (own) return { kind: 'existing', reservation: own };
    const cold = coldOutcome(data, input.buckets);
    if (cold) return cold;
    data.warmUntil = now + WARM_TTL_MS;
    const estimates = heldAmounts(input.estimate, input.tokenEstimate);
    const states = judged(data, input.buckets, now, input.sessionId, estimates);
    // A shadow bucket's refusal is reported, never a refusal of the decision (SPEC §4.8).
    const admitted = input.buckets.every((b, i) => b.shadow === true || states[i]?.admits === true);
    // The request id already belongs to another subject's reservation: that one is the answer.
    const other = reserve && this.otherOwnersReservation(input.subject, reserve.requestId);
    if (other) return { kind: 'existing', reservation: other };
    if (!admitted || !reserve) return { kind: 'decided', admitted, states, reservation: null };
    const recorded = recordReservation(data, input, reserve, states);
    this.pointers.set(reserve.requestId, { subject: input.subject, dropAt: recorded.dropAt });
    return { kind: 'decided', admitted, states: recorded.states, reservation: recorded.reservation };
  }

  async reservation(requestId: string): Promise<Reservation | null> {
    assertId('requestId', requestId);
    const pointer = this.pointers.get(requestId);
    return pointer ? this.storedReservation(pointer.subject, requestId) : null;
  }

  async settle(input: SettleInput): Promise<ApplyOutcome> {
    assertSettleInput(input);
    const { requestId, now } = input;
    const data = this.subjectAt(input.subject, now);
    const stored = data.records.get(requestId);
    if (data.applied.has(requestId) || stored?.record.state === 'settled') return { kind: 'already_applied' };
    const cold = coldOutcome(data, input.buckets);
    if (cold) return cold;
    const amounts = heldAmounts(input.cost, input.tokens);
    const alerts: StoredAlert[] = [];
    for (const bucket of input.buckets) {
      releaseRequest(data, bucket, requestId);
      const amount =
        bucket.metric === 'requests' ? (input.countRequest ? 1 : 0) : amountOf(bucket.metric, amounts);
      if (amount <= 0) continue;
      const used = () => (bucket.alerts ? readUsage(data.usage.get(warmField(bucket)), bucket, now).used : 0);
      // A seed already counted it here: its crossing is judged as if it were charged now.
      const seeded = seededWith(data.warm.get(warmField(bucket)), input);
      const before = seeded ? used() - amount : used();
      if (!seeded) charge(data, bucket, amount, now);
      alerts.push(...crossings(data, bucket, before, requestId, now));
    }
    data.alerts.push(...alerts.map((a) => a.raw));
    if (stored) {
      stored.record.state = 'settled';
      stored.dropAt = Math.max(stored.dropAt, now + APPLIED_MARKER_TTL_MS);
    }
    data.applied.set(requestId, { dropAt: now + APPLIED_MARKER_TTL_MS });
    data.warmUntil = now + WARM_TTL_MS;
    return alerts.length === 0 ? { kind: 'applied' } : { kind: 'applied', alerts };
  }

  async pendingAlerts(subject: string): Promise<StoredAlert[]> {
    assertId('subject', subject);
    return parseAlerts(this.subjects.get(subject)?.alerts ?? []);
  }

  async ackAlerts(subject: string, alerts: StoredAlert[]): Promise<void> {
    assertId('subject', subject);
    const data = this.subjects.get(subject);
    if (!data) return;
    for (const alert of alerts) {
      const at = data.alerts.indexOf(alert.raw);
      if (at >= 0) data.alerts.splice(at, 1);
    }
  }

  async extend(input: ExtendInput): Promise<ExtendOutcome> {
    assertExtend(input);
    const { requestId, now, expiresAt } = input;
    const data = this.subjectAt(input.subject, now);
    const stored = data.records.get(requestId);
    if (!stored) return { kind: 'unknown' };
    const { state } = stored.record;
    if (state !== 'held') return { kind: 'closed', state };
    if (stored.record.expiresAt <= now) return { kind: 'closed', state: 'expired' };
    for (const bucket of input.buckets) extendRequest(data, bucket, requestId, expiresAt);
    stored.record.expiresAt = expiresAt;
    stored.dropAt = Math.max(stored.dropAt, expiresAt + RESERVATION_GRACE_MS);
    const pointer = this.pointers.get(requestId);
    if (pointer) pointer.dropAt = Math.max(pointer.dropAt, stored.dropAt);
    return { kind: 'extended' };
  }

  async release(
    subject: string,
    requestId: string,
    buckets: StoreBucket[],
    now: number,
  ): Promise<ApplyOutcome> {
    assertRelease(subject, requestId, buckets, now);
    const data = this.subjectAt(subject, now);
    for (const bucket of buckets) releaseRequest(data, bucket, requestId);
    const stored = data.records.get(requestId);
    if (stored?.record.state === 'settled' || stored?.record.state === 'released')
      return { kind: 'already_applied' };
    if (stored) stored.record.state = 'released';
    return { kind: 'applied' };
  }

  async peek(
    subject: string,
    buckets: StoreBucket[],
    now: number,
    sessionId: string | null,
  ): Promise<{ kind: 'states'; states: BucketState[] } | ColdOutcome> {
    assertPeek(subject, buckets, now);
    const data = this.subjectAt(subject, now);
    const cold = coldOutcome(data, buckets);
    if (cold) return cold;
    data.warmUntil = now + WARM_TTL_MS;
    return { kind: 'states', states: judged(data, buckets, now, sessionId, heldAmounts(0, undefined)) };
  }

  async seed(seed: SubjectSeed): Promise<void> {
    assertSeed(seed);
    const data = this.subjectAt(seed.subject, seed.now);
    if (data.generation !== seed.generation) return;
    applySeed(data, seed);
    data.warmUntil = seed.now + WARM_TTL_MS;
  }

  async markCold(subject: string, generation: string): Promise<{ unreplicated: boolean }> {
    assertId('subject', subject);
    assertId('generation', generation);
    const data = this.subjects.get(subject) ?? emptySubject();
    this.subjects.set(subject, data);
    data.warm.clear();
    data.generation = generation;
    return { unreplicated: false };
  }

  async replicated(subject: string): Promise<boolean> {
    assertId('subject', subject);
    return true;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.subjects.clear();
    this.pointers.clear();
  }

  private storedReservation(subject: string, requestId: string): Reservation | null {
    const stored = this.subjects.get(subject)?.records.get(requestId);
    return stored ? { ...stored.record, requestId, subject } : null;
  }

  private otherOwnersReservation(subject: string, requestId: string): Reservation | null {
    const pointer = this.pointers.get(requestId);
    if (!pointer || pointer.subject === subject) return null;
    return this.storedReservation(pointer.subject, requestId);
  }

  private subjectAt(subject: string, now: number): SubjectData {
    this.latestNow = Math.max(this.latestNow, now);
    let data = this.subjects.get(subject);
    if (!data) this.subjects.set(subject, (data = emptySubject()));
    return data;
  }

  private prune(): void {
    const now = this.latestNow;
    for (const [subject, data] of this.subjects) if (pruneSubject(data, now)) this.subjects.delete(subject);
    for (const [requestId, pointer] of this.pointers)
      if (pointer.dropAt <= now) this.pointers.delete(requestId);
  }
}
