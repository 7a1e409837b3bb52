import calculateSlot from 'cluster-key-slot';
import type { ChainableCommander, Cluster } from 'ioredis';
import { isCluster, type RedisClient } from './client.js';
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
import {
  assertDecideInput,
  assertExtend,
  assertId,
  assertRelease,
  assertSeed,
  assertSettleInput,
} from '../validate.js';
import { assertPrefix } from './keys.js';
import { readReservation, reserveWithPointer } from './redis-reserve.js';
import { parseApply, parseDecide, parseExtend, ScriptReplyError } from './replies.js';
import { recordTtlMs, ScriptCalls } from './script-calls.js';
import { registerScripts, scriptArgs } from './scripts.js';
import { pipelineResults, roundTrip } from './unavailable.js';
import { parseAlerts } from '../alert-entries.js';

export interface RedisStoreOptions {
  /** Namespace of every key (no braces): one per deployment, or per test file. */
  prefix: string;
  /**
   * Cluster only: after each settle, WAIT up to this many ms for every replica of its master
   * to acknowledge it. A settle a replica lacks could be lost in a failover that promotes
   * that one, so it comes back `unreplicated` and the caller marks the subject for rebuild
   * (PostgreSQL has it).
   */
  replicaAckMs?: number;
}

/**
 * The counter store on Redis: one script call per operation on a subject, so every check
 * and record is atomic across instances (src/store/README.md). The client belongs to the
 * caller (connectRedis: commandTimeout, no offline queue); `close()` leaves it open.
 */
export class RedisCounterStore implements CounterStore {
  readonly kind = 'redis';
  private readonly calls: ScriptCalls;
  private replicasSeen = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: RedisStoreOptions,
  ) {
    assertPrefix(options.prefix);
    this.calls = new ScriptCalls(options.prefix);
    registerScripts(redis);
  }

  async decide(input: DecideInput): Promise<DecideOutcome> {
    assertDecideInput(input);
    if (input.reserve) return reserveWithPointer(this.redis, this.calls, input);
    return this.dryRun(input);
  }

  async reservation(requestId: string): Promise<Reservation | null> {
    assertId('requestId', requestId);
    const subject = await roundTrip(this.redis, () => this.redis.get(this.calls.pointer(requestId)));
    return subject === null ? null : readReservation(this.redis, this.calls, subject, requestId);
  }

  async settle(input: SettleInput): Promise<ApplyOutcome> {
    assertSettleInput(input);
    const args = scriptArgs(this.calls.settle(input));
    const ackMs = this.ackBudget();
    if (ackMs === null) {
      return parseApply(await roundTrip(this.redis, () => this.redis.qgSettle(...args)), input.buckets);
    }
    const { reply, unreplicated } = await this.acknowledged(input.subject, (p) => p.qgSettle(...args), ackMs);
    const outcome = parseApply(reply, input.buckets);
    return outcome.kind === 'applied' && unreplicated ? { ...outcome, unreplicated: true } : outcome;
  }

  /**
   * A write that must outlive a failover waits for the replicas: on a Cluster that has them.
   * Once seen, replicas are assumed from then on: the client's node list is briefly empty or
   * partial while a cluster restarts or fails over, and a settle then sent without WAIT
   * would be acknowledged by nobody yet never marked.
   */
  private ackBudget(): number | null {
    const ackMs = this.options.replicaAckMs;
    const redis = this.redis;
    if (ackMs === undefined || !isCluster(redis)) return null;
    this.replicasSeen ||= redis.nodes('slave').length > 0;
    return this.replicasSeen ? ackMs : null;
  }

  /**
   * A command on the subject's slot, then WAIT (no key: the pipeline sends it to the same
   * master, right behind) for every replica the client knows of that slot, at least one: a
   * failover may promote any of them, so one acknowledgement of two would not make the
   * write outlive it.
   */
  private async acknowledged(
    subject: string,
    add: (pipeline: ChainableCommander) => ChainableCommander,
    ackMs: number,
  ): Promise<{ reply: unknown; unreplicated: boolean }> {
    const slot = calculateSlot(this.calls.warm(subject));
    const replicas = Math.max(1, ((this.redis as Cluster).slots[slot]?.length ?? 2) - 1);
    const exec = await roundTrip(this.redis, () =>
      add(this.redis.pipeline()).call('WAIT', String(replicas), String(ackMs)).exec(),
    );
    const [reply, acks] = pipelineResults(this.redis, exec);
    return { reply, unreplicated: typeof acks !== 'number' || acks < replicas };
  }

  /** The script, then the request id's pointer (its own slot) kept as long as the record. */
  async extend(input: ExtendInput): Promise<ExtendOutcome> {
    assertExtend(input);
    const call = this.calls.extend(input);
    const reply = await roundTrip(this.redis, () => this.redis.qgExtend(...scriptArgs(call)));
    const outcome = parseExtend(reply);
    if (outcome.kind === 'extended') {
      const ttl = recordTtlMs(input.expiresAt - input.now);
      await roundTrip(this.redis, () => this.redis.pexpire(this.calls.pointer(input.requestId), ttl, 'GT'));
    }
    return outcome;
  }

  async release(
    subject: string,
    requestId: string,
    buckets: StoreBucket[],
    now: number,
  ): Promise<ApplyOutcome> {
    assertRelease(subject, requestId, buckets, now);
    const call = this.calls.release(subject, requestId, buckets, now);
    return parseApply(await roundTrip(this.redis, () => this.redis.qgRelease(...scriptArgs(call))), buckets);
  }

  /** decide.lua's dry run without an estimate: the same reading of every structure. */
  async peek(
    subject: string,
    buckets: StoreBucket[],
    now: number,
    sessionId: string | null,
  ): Promise<{ kind: 'states'; states: BucketState[] } | ColdOutcome> {
    const input: DecideInput = {
      subject,
      buckets,
      now,
      estimate: 0,
      sessionId,
      sessionTtlMs: 0,
      reserve: null,
    };
    assertDecideInput(input);
    const outcome = await this.dryRun(input);
    return outcome.kind === 'cold' ? outcome : { kind: 'states', states: outcome.states };
  }

  async seed(seed: SubjectSeed): Promise<void> {
    assertSeed(seed);
    const call = this.calls.seed(seed);
    await roundTrip(this.redis, () => this.redis.qgSeed(...scriptArgs(call)));
  }

  async pendingAlerts(subject: string): Promise<StoredAlert[]> {
    assertId('subject', subject);
    return parseAlerts(
      await roundTrip(this.redis, () => this.redis.lrange(this.calls.alerts(subject), 0, -1)),
    );
  }

  async ackAlerts(subject: string, alerts: StoredAlert[]): Promise<void> {
    assertId('subject', subject);
    if (alerts.length === 0) return;
    const key = this.calls.alerts(subject);
    const pipeline = this.redis.pipeline();
    for (const alert of alerts) pipeline.lrem(key, 1, alert.raw);
    pipelineResults(this.redis, await roundTrip(this.redis, () => pipeline.exec()));
  }

  async markCold(subject: string, generation: string): Promise<{ unreplicated: boolean }> {
    assertId('subject', subject);
    assertId('generation', generation);
    const args = scriptArgs(this.calls.cold(subject, generation));
    const ackMs = this.ackBudget();
    if (ackMs === null) {
      await roundTrip(this.redis, () => this.redis.qgCold(...args));
      return { unreplicated: false };
    }
    const { unreplicated } = await this.acknowledged(subject, (p) => p.qgCold(...args), ackMs);
    return { unreplicated };
  }

  async replicated(subject: string): Promise<boolean> {
    assertId('subject', subject);
    const ackMs = this.ackBudget();
    if (ackMs === null) return true;
    // A read of the subject's slot routes the WAIT to its master.
    const warm = this.calls.warm(subject);
    const { unreplicated } = await this.acknowledged(subject, (p) => p.exists(warm), ackMs);
    return !unreplicated;
  }

  async close(): Promise<void> {
    // The client is closed by whoever opened it (compose.ts, tests).
  }

  private async dryRun(input: DecideInput) {
    const reply = await roundTrip(this.redis, () =>
      this.redis.qgDecide(...scriptArgs(this.calls.decide(input))),
    );
    const outcome = parseDecide(reply, input.buckets, input.now);
    if (outcome.kind === 'existing')
      throw new ScriptReplyError('counter store: a dry run found a reservation');
    return outcome;
  }
}
