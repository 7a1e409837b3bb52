import type { Cluster } from './cluster.js';
import type { Disturbances, UserModel } from './model.js';
import type { Prng } from './prng.js';
import type { PrivatePostgres } from './processes.js';
import { editableLimits, editedSpec, limitBody } from './profiles.js';
import type { ChaosRedis } from './redis-cluster.js';
import type { SeedReport } from './report.js';
import type { Interval } from './windows.js';

/**
 * Fault injection, one fault at a time (inject, hold, heal, wait until every instance is
 * ready again), with a random gap between faults. Every fault is logged as an interval
 * before it starts (open-ended until healed), so an operation racing it is judged as if it
 * overlapped it.
 */

export const FAULT_KINDS = [
  'flushall',
  'redis-restart',
  'redis-pause',
  'redis-rollback',
  'master-failover',
  'pg-stop',
  'instance-kill',
  'limit-edit',
  'dirty-mark',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Faults after which stores or instances may lag behind (rule 6 of the model). */
const DISTURBING: ReadonlySet<FaultKind> = new Set([
  'flushall',
  'redis-restart',
  'redis-pause',
  'redis-rollback',
  'master-failover',
  'pg-stop',
  'instance-kill',
]);

interface FaultRecord {
  kind: FaultKind;
  lo: number;
  hi: number;
}

export class FaultLog implements Disturbances {
  private readonly records: FaultRecord[] = [];
  private readonly lossList: Interval[] = [];

  /**
   * @param marginMs after a fault heals, clients may still be reconnecting
   * @param quietMs how long the stores must be healthy for a dirty sweep to have run
   */
  constructor(
    private readonly marginMs: number,
    private readonly quietMs: number,
  ) {}

  begin(kind: FaultKind): FaultRecord {
    const record = { kind, lo: Date.now(), hi: Number.POSITIVE_INFINITY };
    this.records.push(record);
    return record;
  }

  end(record: FaultRecord): void {
    record.hi = Date.now();
  }

  beginLoss(): Interval {
    const loss = { lo: Date.now(), hi: Number.POSITIVE_INFINITY };
    this.lossList.push(loss);
    return loss;
  }

  private disturbing(): { lo: number; hi: number }[] {
    return this.records
      .filter((r) => DISTURBING.has(r.kind))
      .map((r) => ({ lo: r.lo, hi: r.hi + this.marginMs }));
  }

  overlaps(span: Interval): boolean {
    return this.disturbing().some((r) => r.lo <= span.hi && span.lo <= r.hi);
  }

  quietAfter(t: number): number {
    const faults = this.disturbing();
    let at = t + this.quietMs;
    for (let moved = true; moved && Number.isFinite(at);) {
      moved = false;
      for (const r of faults) {
        if (r.lo <= at && r.hi > at - this.quietMs) {
          at = r.hi + this.quietMs;
          moved = true;
        }
      }
    }
    return at;
  }

  losses(): readonly Interval[] {
    return this.lossList;
  }

  /** A fault is in progress. */
  get active(): boolean {
    return this.records.some((r) => !Number.isFinite(r.hi));
  }
}

export interface FaultOptions {
  weights: Record<FaultKind, number>;
  gapMs: [number, number];
  /** Also SIGKILL and restart an instance while Redis is down (today's server may not start then). */
  restartDuringRedisOutage: boolean;
}

export const DEFAULT_FAULT_WEIGHTS: Record<FaultKind, number> = {
  flushall: 3,
  'redis-restart': 2,
  'redis-pause': 2,
  'redis-rollback': 2,
  // A Redis Cluster only (--redis-cluster sets its weight).
  'master-failover': 0,
  'pg-stop': 2,
  'instance-kill': 2,
  'limit-edit': 4,
  'dirty-mark': 3,
};

/** On a Redis Cluster: master failovers join the faults. */
export const CLUSTER_FAULT_WEIGHTS: Partial<Record<FaultKind, number>> = {
  'master-failover': 3,
  // Nodes run without persistence (README, Redis Cluster): nothing to roll back to.
  'redis-rollback': 0,
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Puts every store and instance back (also after a failed fault). */
export async function healAll(env: {
  redis: ChaosRedis;
  postgres: PrivatePostgres;
  cluster: Cluster;
}): Promise<void> {
  if (!env.redis.running) await env.redis.launch();
  if (env.postgres.pid === null) await env.postgres.launch();
  for (const instance of env.cluster.instances) {
    if (instance.server === null) await env.cluster.restart(instance).catch(() => undefined);
  }
}

export class FaultInjector {
  private stopped = false;

  constructor(
    private readonly deps: {
      cluster: Cluster;
      redis: ChaosRedis;
      postgres: PrivatePostgres;
      log: FaultLog;
      report: SeedReport;
      models: UserModel[];
      groupId: number;
      /** Fault kinds and gaps (their sequence depends on the seed alone)… */
      schedule: Prng;
      /** …and their parameters. */
      prng: Prng;
      options: FaultOptions;
    },
  ) {}

  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<void> {
    const { schedule, options } = this.deps;
    while (!this.stopped) {
      await sleep(schedule.int(options.gapMs[0], options.gapMs[1]));
      if (this.stopped) break;
      await this.inject(schedule.weighted(options.weights));
    }
  }

  async inject(kind: FaultKind): Promise<void> {
    const { log, report, cluster } = this.deps;
    const record = log.begin(kind);
    let text: string = kind;
    try {
      text = await this.perform(kind);
    } catch (err) {
      text = `${kind} failed: ${String(err).slice(0, 300)}`;
      report.notes.push(text);
    } finally {
      await this.heal().catch((err: unknown) =>
        report.notes.push(`heal after ${kind} failed: ${String(err).slice(0, 300)}`),
      );
      const ready = await cluster.waitReady(30_000);
      log.end(record);
      report.fault(kind, `${text} (${record.hi - record.lo} ms)`);
      if (!ready) {
        report.violation(
          'not-ready',
          '*',
          `an instance was not ready 30 s after ${kind} healed (SPEC §4.6: it reconnects on its own)`,
        );
      }
    }
  }

  heal(): Promise<void> {
    return healAll(this.deps);
  }

  /** A loss of Redis data from now on, told to every user's model; the caller ends it. */
  private beginLoss(): Interval {
    const loss = this.deps.log.beginLoss();
    for (const m of this.deps.models) m.dataLoss(loss);
    return loss;
  }

  private async perform(kind: FaultKind): Promise<string> {
    const { prng, redis, postgres, cluster, models } = this.deps;
    switch (kind) {
      case 'flushall': {
        const loss = this.beginLoss();
        await redis.command('FLUSHALL');
        loss.hi = Date.now();
        return 'FLUSHALL';
      }
      case 'redis-restart': {
        const loss = this.beginLoss();
        await redis.kill();
        // Settles to the start-up error (or null): a rejection must not go unhandled meanwhile.
        let restarting: Promise<unknown> | null = null;
        let victim = '';
        if (this.deps.options.restartDuringRedisOutage) {
          const instance = cluster.pick(prng);
          if (instance) {
            victim = ` + SIGKILL/restart i${instance.index} while Redis is down`;
            await cluster.kill(instance);
            restarting = cluster.restart(instance, 'healthz').then(
              () => null,
              (err: unknown) => err,
            );
          }
        }
        // Long enough for a restarted instance to reach its start-up while Redis is still down.
        const downMs = restarting ? prng.int(2_500, 5_000) : prng.int(200, 2_000);
        await sleep(downMs);
        await redis.launch();
        loss.hi = Date.now();
        const failed = restarting ? await restarting : null;
        if (failed) {
          this.deps.report.violation(
            'instance-start',
            '*',
            `an instance restarted while Redis was down did not start (SPEC §4.6: the service starts and serves while Redis is unreachable): ${String(failed).replace(/\s+/g, ' ').slice(0, 400)}`,
          );
        }
        return `redis SIGKILL, down ${downMs} ms, restarted on the same port${victim}`;
      }
      case 'redis-pause': {
        const ms = prng.int(200, 1_500);
        await redis.command('CLIENT', 'PAUSE', ms, 'ALL');
        await sleep(ms + 100);
        return `CLIENT PAUSE ${ms} ALL`;
      }
      case 'redis-rollback': {
        if (!redis.rollback) return 'redis-rollback: one server only';
        // What the snapshot does not hold is lost from the SAVE on.
        const loss = this.beginLoss();
        const aliveMs = prng.int(200, 2_000);
        await redis.rollback(aliveMs);
        loss.hi = Date.now();
        return `SAVE, ${aliveMs} ms more, SIGKILL, restarted from the snapshot`;
      }
      case 'master-failover': {
        if (!redis.failover) return 'master-failover: not a Redis Cluster';
        // Writes the master acknowledged but never replicated are gone with it.
        const loss = this.beginLoss();
        const text = await redis.failover(prng);
        loss.hi = Date.now();
        return text;
      }
      case 'pg-stop': {
        const mode = prng.chance(0.5) ? 'fast' : 'immediate';
        const downMs = prng.int(300, 3_000);
        await postgres.halt(mode);
        await sleep(downMs);
        await postgres.launch();
        return `pg_ctl stop -m ${mode}, down ${downMs} ms`;
      }
      case 'instance-kill': {
        const instance = cluster.pick(prng);
        if (!instance) return 'instance-kill: no live instance';
        const before = instance.generation;
        const kill = { lo: Date.now(), hi: Date.now() };
        await cluster.kill(instance);
        kill.hi = Date.now();
        for (const m of models) m.instanceKilled(`i${instance.index}.${before}`, kill);
        await sleep(prng.int(100, 1_000));
        try {
          await cluster.restart(instance);
        } catch (err) {
          this.deps.report.violation(
            'instance-start',
            '*',
            `instance did not restart: ${String(err).slice(0, 400)}`,
          );
        }
        return `SIGKILL i${instance.index}.${before}, restarted`;
      }
      case 'limit-edit':
        return this.editLimit();
      case 'dirty-mark': {
        const model = prng.pick(models);
        await postgres.query(
          'insert into dirty_subjects (subject) values ($1) on conflict (subject) do update set marked_at = now()',
          [model.user],
        );
        return `dirty mark ${model.user}`;
      }
    }
  }

  /** Re-PUT a fixed limit with another anchor or a calendar one with another zone / reset time. */
  private async editLimit(): Promise<string> {
    const { prng, cluster, models, groupId, report } = this.deps;
    const candidates = models.flatMap((m) => editableLimits(m.profile).map((spec) => ({ m, spec })));
    if (candidates.length === 0) return 'limit-edit: nothing editable';
    const { m, spec: original } = prng.pick(candidates);
    const track = m.limits.get(original.id);
    if (!track || track.unknown) return `limit-edit: ${m.user} ${original.id} already unknown`;
    const current = track.spec;
    const next = editedSpec(prng, current, Date.now());
    // Registered before the PUT leaves: a decision racing it may see either definition.
    const at = { lo: Date.now(), hi: Number.POSITIVE_INFINITY };
    m.recordEdit(current.id, next, at, 'applied');
    const body = limitBody(m.user, groupId, next);
    for (let attempt = 0; attempt < 5; attempt++) {
      const instance = cluster.pick(prng);
      if (!instance) break;
      const result = await cluster.call(instance, 'PUT', '/admin/limits', body, true);
      if (result.status === 200 || result.status === 201) {
        at.hi = result.hi;
        const describe = (s: typeof current) =>
          s.reset === 'fixed' ? `anchor ${s.anchor}` : `${s.timezone} ${s.resetTime}`;
        return `limit-edit ${m.user} ${current.id}: ${describe(current)} → ${describe(next)}`;
      }
      if (result.status >= 400 && result.status < 500) {
        report.notes.push(
          `limit-edit refused ${result.status}: ${JSON.stringify(result.body).slice(0, 300)}`,
        );
        break;
      }
      await sleep(300);
    }
    at.hi = Date.now();
    m.recordEdit(current.id, next, at, 'unknown');
    return `limit-edit ${m.user} ${current.id}: outcome unknown, limit no longer judged`;
  }
}
