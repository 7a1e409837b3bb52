import { randomBytes } from 'node:crypto';
import { openPostgres } from '../../src/db/client.js';
import { Cluster } from './cluster.js';
import { DEFAULT_FAULT_WEIGHTS, FaultInjector, FaultLog, healAll, type FaultKind } from './faults.js';
import { planHistory, writeHistory, type UserHistory } from './history.js';
import { UserModel, type ModelOptions } from './model.js';
import { judgeLedger, judgeLedgerBuckets, limitIdOf, type BucketView, type LedgerRow } from './oracle.js';
import { Prng } from './prng.js';
import { PrivatePostgres, PrivateRedis } from './processes.js';
import { ChaosRedisCluster, type ChaosRedis } from './redis-cluster.js';
import { applicable, limitBody, profilesFor } from './profiles.js';
import { SeedReport } from './report.js';
import { DEFAULT_OP_WEIGHTS, UserWorker, type OpKind } from './workload.js';

/**
 * One chaos run: a private Redis and PostgreSQL, a cluster of instances on them, and per
 * seed a fresh model group and users (so seeds of one run never share a bucket), driven by
 * seeded workers while a fault loop breaks things. Exact replay is impossible (the outcome
 * of a race depends on timing), but a seed fixes every choice: users, limits, operation
 * kinds and parameters, fault kinds and their parameters.
 */

export interface ChaosOptions {
  /** Operations per seed, over all users. */
  ops: number;
  users: number;
  instances: number;
  thinkMs: [number, number];
  faultGapMs: [number, number];
  faultWeights: Record<FaultKind, number>;
  opWeights: Record<OpKind, number>;
  restartDuringRedisOutage: boolean;
  strictLapsed: boolean;
  forgiveSessionMs: number;
  /** The model's tolerance for a server clock's error, and the error reported as clock-skew. */
  skewMs: number;
  skewCheckMs: number;
  pollSeconds: number;
  storeTimeoutMs: number;
  /** closed (default): a down Redis answers 503; open: 200 with failOpen:true, never judged as an admission. */
  failMode: 'open' | 'closed';
  /** Share (0–1) of the users with a history-able profile that get ledger history (history.ts); 0: none. */
  historyShare: number;
  /** A private Redis Cluster (3 masters, 3 replicas; REDIS_CLUSTER=true) instead of one redis-server. */
  redisCluster: boolean;
  log: (line: string) => void;
}

export const DEFAULT_OPTIONS: ChaosOptions = {
  ops: 150,
  users: 4,
  instances: 3,
  thinkMs: [250, 1000],
  faultGapMs: [1_000, 3_000],
  faultWeights: DEFAULT_FAULT_WEIGHTS,
  opWeights: DEFAULT_OP_WEIGHTS,
  restartDuringRedisOutage: false,
  strictLapsed: false,
  forgiveSessionMs: 0,
  skewMs: 1_000,
  skewCheckMs: 50,
  pollSeconds: 1,
  storeTimeoutMs: 500,
  failMode: 'closed',
  historyShare: 0.6,
  redisCluster: false,
  log: () => undefined,
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ChaosEnvironment {
  private constructor(
    readonly redis: ChaosRedis,
    readonly postgres: PrivatePostgres,
    readonly cluster: Cluster,
  ) {}

  static async start(options: ChaosOptions): Promise<ChaosEnvironment> {
    const redis = options.redisCluster ? await ChaosRedisCluster.start() : await PrivateRedis.start();
    let postgres: PrivatePostgres | null = null;
    try {
      postgres = await PrivatePostgres.start();
      const cluster = await Cluster.start(
        {
          DATABASE_URL: postgres.url,
          REDIS_URL: redis.url,
          ...(redis.clustered ? { REDIS_CLUSTER: 'true' } : {}),
          REDIS_KEY_PREFIX: 'chaos',
          CONFIG_POLL_SECONDS: String(options.pollSeconds),
          FAIL_MODE: options.failMode,
          STORE_TIMEOUT_MS: String(options.storeTimeoutMs),
        },
        options.instances,
      );
      return new ChaosEnvironment(redis, postgres, cluster);
    } catch (err) {
      await redis.stop();
      await postgres?.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.cluster.stop().catch(() => undefined);
    await this.redis.stop().catch(() => undefined);
    await this.postgres.stop().catch(() => undefined);
  }

  stopSync(): void {
    this.cluster.stopSync();
    this.redis.stopSync();
    this.postgres.stopSync();
  }
}

async function admin(env: ChaosEnvironment, prng: Prng, method: 'POST' | 'PUT', path: string, body: unknown) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const instance = env.cluster.pick(prng);
    if (instance) {
      const r = await env.cluster.call(instance, method, path, body, true);
      if (r.status === 200 || r.status === 201) return r.body;
      if (r.status >= 400 && r.status < 500)
        throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    await sleep(250);
  }
  throw new Error(`${method} ${path}: no success after 20 attempts`);
}

/** The server names each history bucket as history.ts wrote it (else the rows count nowhere). */
async function checkHistoryKeys(env: ChaosEnvironment, histories: UserHistory[], model: string) {
  for (const h of histories) {
    const instance = env.cluster.instances[0];
    if (!instance) return;
    const r = await env.cluster.call(instance, 'GET', `/usage?userId=${h.user}&model=${model}`);
    const served = ((r.body as { buckets?: BucketView[] } | null)?.buckets ?? []).map((b) => b.key);
    const missing = h.keys.filter((k) => !served.includes(k));
    if (r.status !== 200 || missing.length > 0)
      throw new Error(`history keys ${missing.join(', ')} of ${h.user} not served (${served.join(', ')})`);
  }
}

/** Every instance serves the seed's config (the bucket set of every user matches the profile). */
async function waitForConfig(
  env: ChaosEnvironment,
  models: UserModel[],
  names: { grouped: string; ungrouped: string },
) {
  const deadline = Date.now() + 15_000;
  for (const instance of env.cluster.instances) {
    for (const m of models) {
      for (const inGroup of [true, false]) {
        const expected = applicable(m.profile, inGroup)
          .map((l) => l.id)
          .sort()
          .join(',');
        for (;;) {
          const name = inGroup ? names.grouped : names.ungrouped;
          const r = await env.cluster.call(instance, 'GET', `/usage?userId=${m.user}&model=${name}`);
          const buckets = (r.body as { buckets?: BucketView[] } | null)?.buckets ?? [];
          if (r.status === 200 && buckets.map(limitIdOf).sort().join(',') === expected) break;
          if (Date.now() > deadline)
            throw new Error(`instance ${instance.index} does not serve the config of ${m.user}`);
          await sleep(200);
        }
      }
    }
  }
}

export async function runSeed(
  env: ChaosEnvironment,
  seed: number,
  options: ChaosOptions,
): Promise<SeedReport> {
  const report = new SeedReport(seed);
  const prng = new Prng(seed);
  const setupPrng = prng.fork('setup');
  const tag = randomBytes(3).toString('hex');
  const names = { grouped: `chaos-${seed}-${tag}-a`, ungrouped: `chaos-${seed}-${tag}-b` };
  const faults = new FaultLog(options.storeTimeoutMs + 1_000, options.pollSeconds * 1000 + 2_500);
  const faultPrng = prng.fork('faults');
  const faultSchedule = prng.fork('fault-schedule');
  await healAll(env);
  if (!(await env.cluster.waitReady(30_000))) throw new Error('cluster not ready before the seed');

  const group = (await admin(env, setupPrng, 'POST', '/admin/model-groups', {
    name: `chaos-${seed}-${tag}`,
    models: [names.grouped],
  })) as { id: number };
  const profiles = profilesFor(seed, prng.fork('profiles'), options.users, Date.now()).map((p) => ({
    ...p,
    user: `${p.user}-${tag}`,
  }));
  for (const p of profiles) {
    for (const spec of p.limits)
      await admin(env, setupPrng, 'PUT', '/admin/limits', limitBody(p.user, group.id, spec));
  }
  const modelOptions: ModelOptions = {
    pollMs: options.pollSeconds * 1000,
    strictLapsed: options.strictLapsed,
    forgiveSessionMs: options.forgiveSessionMs,
    skewMs: options.skewMs,
  };
  const models = profiles.map((p) => new UserModel(p, modelOptions, faults));
  // Before any decision touches the users' buckets: their first rebuild already reads it.
  const histories = planHistory(profiles, prng.fork('history'), options.historyShare, Date.now());
  if (histories.length > 0) {
    const database = openPostgres(env.postgres.url, 1);
    try {
      await writeHistory(database, names.ungrouped, histories);
    } finally {
      await database.close();
    }
  }
  const written = Date.now();
  for (const h of histories) models.find((m) => m.user === h.user)?.addHistory(h.entries, written);
  await waitForConfig(env, models, names);
  await checkHistoryKeys(env, histories, names.ungrouped);
  for (const p of profiles) {
    report.line(
      p.user,
      `profile ${p.profile}: ${p.limits
        .map(
          (l) =>
            `${l.id} ${l.window ?? ''} ${l.reset ?? ''}${l.anchor ? ` @${l.anchor}` : ''}${l.timezone ? ` ${l.timezone} ${l.resetTime}` : ''} cap ${l.metric === 'cost' ? `$${l.cap / 1e6}` : l.cap}`,
        )
        .join('; ')}`,
    );
  }
  for (const h of histories) {
    report.line(h.user, h.summary);
    report.history.push(`${h.user} ${h.summary}`);
  }

  const workerDeps = (m: UserModel, i: number) => ({
    cluster: env.cluster,
    model: m,
    report,
    prng: prng.fork(`user-${i}`),
    models: names,
    faults,
    skewCheckMs: options.skewCheckMs,
    failMode: options.failMode,
    options: {
      opsPerUser: Math.ceil(options.ops / options.users),
      thinkMs: options.thinkMs,
      weights: options.opWeights,
    },
  });
  const workers = models.map((m, i) => new UserWorker(workerDeps(m, i)));
  const injector = new FaultInjector({
    cluster: env.cluster,
    redis: env.redis,
    postgres: env.postgres,
    log: faults,
    report,
    models,
    groupId: group.id,
    schedule: faultSchedule,
    prng: faultPrng,
    options: {
      weights: options.faultWeights,
      gapMs: options.faultGapMs,
      restartDuringRedisOutage: options.restartDuringRedisOutage,
    },
  });

  // Handled at once: a failing fault loop must not become an unhandled rejection mid-run.
  const faultLoop = injector.run().catch((err: unknown) => {
    report.notes.push(`the fault loop stopped: ${String(err).slice(0, 300)}`);
  });
  try {
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    injector.stop();
    await faultLoop;
  }

  // Recovery: everything up, unanswered settles answered, then the quiet period of rule 6.
  await healAll(env);
  await env.cluster.waitReady(30_000);
  let settled = true;
  for (const w of workers) settled = (await w.finish()) && settled;
  if (!settled)
    report.notes.push('some settles stayed unanswered after recovery (their ledger checks are weaker)');
  // Past the model's visibility rule 6 (margin + CONFIG_POLL_SECONDS + 2.5 s after the last fault).
  await sleep(options.pollSeconds * 1000 + 5_000);
  const finals: {
    model: UserModel;
    buckets: BucketView[];
    q: { lo: number; hi: number };
    inGroup: boolean;
  }[] = [];
  for (const [i, w] of workers.entries()) {
    for (const inGroup of [true, false]) {
      let view: Awaited<ReturnType<UserWorker['usage']>> = null;
      for (let attempt = 0; attempt < 5 && !view; attempt++) view = await w.usage(inGroup, true);
      const model = models[i];
      if (view && model) finals.push({ model, inGroup, ...view });
      else report.notes.push('a final /usage did not answer 200');
    }
  }

  const users = models.map((m) => m.user);
  const rows = await env.postgres.query<LedgerRow>(
    'select request_id, user_id, cost_micros, input_tokens, output_tokens, status, reserved_at, settled_at, buckets from usage_ledger where user_id = any($1)',
    [users],
  );
  for (const f of finals) {
    judgeLedgerBuckets(
      { model: f.model, report },
      {
        what: `final usage (${f.inGroup ? 'grouped' : 'ungrouped'}) vs usage_ledger`,
        q: f.q,
        pendingSettles: !settled,
      },
      f.buckets,
      rows.filter((r) => r.user_id === f.model.user),
    );
  }
  judgeLedger(models, rows, report);

  // SPEC §4.6: a subject marked for rebuild is rebuilt once and the mark cleared.
  let dirty: { subject: string }[] = [];
  for (let attempt = 0; attempt < 10; attempt++) {
    dirty = await env.postgres.query<{ subject: string }>(
      'select subject from dirty_subjects where subject = any($1)',
      [users],
    );
    if (dirty.length === 0) break;
    await sleep(500);
  }
  for (const row of dirty) {
    report.violation(
      'dirty-not-cleared',
      row.subject,
      `dirty_subjects still marks ${row.subject} ${options.pollSeconds + 10}s after recovery (SPEC §4.6: rebuilt once and the mark cleared)`,
    );
  }
  for (const crash of env.cluster.crashes.splice(0)) report.notes.push(crash.slice(0, 500));
  for (const exit of env.cluster.exits.splice(0)) report.violation('instance-exit', '*', exit);
  report.finished = Date.now();
  return report;
}

/** Seeds one after another on one environment; with `minutes`, new seeds until the time is up. */
export async function runChaos(
  env: ChaosEnvironment,
  plan: { seeds: number[] } | { minutes: number; firstSeed: number },
  options: ChaosOptions,
  onSeed: (report: SeedReport) => void = () => undefined,
): Promise<SeedReport[]> {
  const reports: SeedReport[] = [];
  if ('seeds' in plan) {
    for (const seed of plan.seeds) {
      const report = await runSeed(env, seed, options);
      reports.push(report);
      onSeed(report);
    }
    return reports;
  }
  const deadline = Date.now() + plan.minutes * 60_000;
  for (let seed = plan.firstSeed; Date.now() < deadline; seed = (seed * 1103515245 + 12345) >>> 1) {
    const report = await runSeed(env, seed, options);
    reports.push(report);
    onSeed(report);
  }
  return reports;
}
