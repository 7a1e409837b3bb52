import type { Logger } from 'pino';
import { HostPolicy } from './alerts/allowed-hosts.js';
import { DeliveryWorker } from './alerts/delivery-worker.js';
import { enqueueCrossings } from './alerts/outbox.js';
import { OutboxPruner } from './alerts/outbox-retention.js';
import type { Clock } from './clock.js';
import type { AppConfig } from './config.js';
import type { Database } from './db/client.js';
import { alertForwarder } from './decisions/alert-forwarder.js';
import { createBucketResolver } from './decisions/bucket-resolver.js';
import { createDecisionService } from './decisions/decision-service.js';
import { createExtendService } from './decisions/extend-service.js';
import { metricsObserver } from './decisions/observer.js';
import { createSettleService } from './decisions/settle-service.js';
import { RebuildFlights } from './decisions/warm.js';
import { ApplyIntents } from './ledger/apply-intents.js';
import { PartitionMaintainer } from './ledger/ledger-partitions.js';
import { SettleBatcher } from './ledger/settle-batcher.js';
import { WRITE_BEHIND_SETTLE_MS, WriteBehind } from './ledger/write-behind.js';
import { BackgroundJobs } from './ops/background-jobs.js';
import { createMetrics } from './ops/metrics.js';
import { memoryOpenHolds, redisOpenHolds } from './ops/open-holds.js';
import { DirtySweeper } from './recovery/dirty-sweeper.js';
import { StoreHealth } from './recovery/store-health.js';
import { StoreLosses } from './recovery/store-losses.js';
import { ConfigSync } from './snapshot/config-sync.js';
import type { CounterStore } from './store/counter-store.js';
import { MemoryCounterStore } from './store/memory/memory-store.js';
import { isCluster, type RedisClient } from './store/redis/client.js';
import { RedisCounterStore } from './store/redis/redis-store.js';
import { RedisWatch } from './store/redis/redis-watch.js';
import { RestartGuard } from './store/redis/restart-guard.js';

/*
 * The composition root: the one place the app's services are built and wired, over the
 * infrastructure server.ts opens (infrastructure.ts; tests open their own). buildApp calls
 * it and serves what it returns. Nothing here starts: every loop is a job in one registry
 * that buildApp starts once the app is ready and stops when it closes.
 */

export interface ServiceDeps {
  config: AppConfig;
  database: Database;
  /** null: embedded mode (in-process counters, config polling only). */
  redis: RedisClient | null;
  clock: Clock;
  logger: Logger;
  /** Tests turn pub/sub off to prove polling alone propagates config. */
  configPubSub?: boolean;
}

/**
 * Builds every service over the infrastructure and registers every background job, in the
 * order they start (they stop in reverse: the flushes of the ledger writers after every
 * loop that feeds them, the config last).
 */
export function composeServices(deps: ServiceDeps) {
  const { config, database, redis, clock, logger } = deps;
  const jobs = new BackgroundJobs();
  const metrics = createMetrics();
  const sync = new ConfigSync({
    db: database.db,
    clock,
    logger,
    pollSeconds: config.CONFIG_POLL_SECONDS,
    redis: deps.configPubSub === false ? null : redis,
    channel: `${config.REDIS_KEY_PREFIX}:config`,
  });
  jobs.add({ name: 'config-sync', start: () => sync.start(), stop: () => sync.stop() });
  const plane = composeDataPlane({ ...deps, metrics, jobs, snapshot: () => sync.current() });
  metrics.bindSources({
    configVersion: () => sync.current().version,
    snapshotLoadedAt: () => sync.current().loadedAt,
    now: () => clock.now(),
    openHolds: (now) => plane.holds.count(now),
  });
  const deliveries = new DeliveryWorker({
    db: database.db,
    clock,
    logger,
    metrics,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    retryHours: config.WEBHOOK_RETRY_HOURS,
    hosts: new HostPolicy(config.WEBHOOK_ALLOWED_HOSTS),
  });
  // Stopped before the caller closes the database: outcomes of attempts in flight are written first.
  jobs.add({ name: 'delivery-worker', start: () => deliveries.start(), stop: () => deliveries.stop() });
  // Migrations ran before: the ledger's months ahead exist from the start on.
  const partitions = new PartitionMaintainer({ db: database.db, clock, logger });
  jobs.add({ name: 'ledger-partitions', start: () => partitions.start(), stop: () => partitions.stop() });
  const pruner = new OutboxPruner({
    db: database.db,
    clock,
    logger,
    retentionDays: config.WEBHOOK_RETENTION_DAYS,
  });
  jobs.add({ name: 'outbox-pruner', start: () => pruner.start(), stop: () => pruner.stop() });
  return { metrics, sync, health: plane.health, services: plane.services, jobs };
}

export type Composition = ReturnType<typeof composeServices>;

/**
 * The data plane over one counter store (Redis, or in-process without it): the ledger's
 * writers, the recovery from lost or missed counter updates, and the three services.
 */
function composeDataPlane(
  deps: ServiceDeps & {
    metrics: ReturnType<typeof createMetrics>;
    jobs: BackgroundJobs;
    snapshot: () => ReturnType<ConfigSync['current']>;
  },
) {
  const { config, database, redis, logger, snapshot, jobs } = deps;
  const store = counterStore(config, redis);
  jobs.add({ name: 'counter-store', start: () => undefined, stop: () => store.close() });
  const refused = (table: string, rows: number) => deps.metrics.refusedRows.inc({ table }, rows);
  const intents = new ApplyIntents(database.db, logger);
  const writeBehind = new WriteBehind(database.db, logger, { onRefused: refused });
  const batcher = new SettleBatcher(database, logger, {
    intents,
    onBatch: (size, seconds) => {
      deps.metrics.settleBatchSize.observe(size);
      deps.metrics.settleCommit.observe(seconds);
    },
    onRefused: refused,
  });
  // Buffers, not loops: what they hold reaches PostgreSQL when they stop.
  jobs.add({ name: 'apply-intents', start: () => undefined, stop: () => intents.flush() });
  jobs.add({ name: 'write-behind', start: () => undefined, stop: () => writeBehind.flush() });
  jobs.add({ name: 'settle-batcher', start: () => undefined, stop: () => batcher.flush() });

  const health = new StoreHealth();
  // Losses of Redis data this instance detected: a rebuild of a subject Redis holds nothing
  // of waits for the write-behind only shortly after one (recovery/store-losses.ts).
  const watch = redis
    ? new RedisWatch(redis, `${config.REDIS_KEY_PREFIX}:generation`, logger, undefined, () =>
        losses.detected(),
      )
    : null;
  const losses = new StoreLosses(watch ? () => watch.generationChanged() : null);
  const guard =
    redis && !isCluster(redis)
      ? new RestartGuard(redis, config.REDIS_KEY_PREFIX, logger, losses.detected)
      : null;
  const alerts = alertForwarder({
    store,
    logger,
    sink: (crossings, now) => enqueueCrossings(database.db, crossings, now),
  });
  const sweeper = new DirtySweeper(
    { db: database.db, store, logger, health, drainAlerts: (subject) => alerts.drain(subject) },
    Math.min(1000, config.CONFIG_POLL_SECONDS * 1000),
  );
  jobs.add({ name: 'dirty-sweeper', start: () => sweeper.start(), stop: () => sweeper.stop() });
  // Resolves once a connected Redis was checked for a restart from disk: the app serves after.
  if (guard) jobs.add({ name: 'restart-guard', start: () => guard.start(), stop: () => guard.stop() });
  if (watch) jobs.add({ name: 'redis-watch', start: () => watch.start(), stop: () => watch.stop() });

  const holds = redis ? redisOpenHolds(redis, config.REDIS_KEY_PREFIX) : memoryOpenHolds();
  const writeBehindSettled = async () => {
    const started = Date.now();
    await writeBehind.flush().catch(() => undefined);
    // Other instances flush on their own timers; the in-process store has no others.
    const left = redis ? WRITE_BEHIND_SETTLE_MS - (Date.now() - started) : 0;
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
  };
  const common = {
    store,
    db: database.db,
    snapshot,
    config,
    logger,
    health,
    observer: metricsObserver(deps.metrics, holds),
    writeBehindSettled,
    lossInFlight: () => losses.inFlight(),
    rebuilds: new RebuildFlights(),
    // One resolver for /check, /reserve, /usage and direct settles: one set of plans per snapshot.
    resolve: createBucketResolver(snapshot, {
      defaultTimezone: config.DEFAULT_TIMEZONE,
      shadowMode: config.SHADOW_MODE,
    }),
  };
  const services = {
    decisions: createDecisionService({ ...common, writeBehind }),
    settles: createSettleService({ ...common, batcher, intents, alerts, writeBehind }),
    extensions: createExtendService(common),
  };
  return { holds, health, services };
}

function counterStore(config: AppConfig, redis: RedisClient | null): CounterStore {
  if (!redis) return new MemoryCounterStore();
  return new RedisCounterStore(redis, {
    prefix: config.REDIS_KEY_PREFIX,
    ...(config.REDIS_CLUSTER ? { replicaAckMs: Math.max(1, Math.floor(config.STORE_TIMEOUT_MS / 2)) } : {}),
  });
}
