import { isCluster, type RedisClient } from '../store/redis/client.js';
import { RestartGuard } from '../store/redis/restart-guard.js';
import type { Logger } from 'pino';
import type { AppConfig } from '../config.js';
import type { Database } from '../db/client.js';
import { ApplyIntents } from '../ledger/apply-intents.js';
import { SettleBatcher } from '../ledger/settle-batcher.js';
import { WRITE_BEHIND_SETTLE_MS, WriteBehind } from '../ledger/write-behind.js';
import type { ConfigSnapshot } from '../snapshot/snapshot.js';
import type { CounterStore } from '../store/counter-store.js';
import { MemoryCounterStore } from '../store/memory/memory-store.js';
import { RedisCounterStore } from '../store/redis/redis-store.js';
import { memoryOpenHolds, redisOpenHolds } from '../ops/open-holds.js';
import type { Metrics } from '../ops/metrics.js';
import { createBucketResolver } from './bucket-plans.js';
import { createDecisionService } from './decision-service.js';
import { metricsObserver } from './observer.js';
import { DirtySweeper } from './dirty-sweeper.js';
import { RedisWatch } from './redis-watch.js';
import { enqueueCrossings } from '../alerts/outbox.js';
import { alertForwarder } from './alert-forwarder.js';
import { createExtendService } from './extend-service.js';
import { createSettleService } from './settle-service.js';
import { StoreHealth } from './store-health.js';
import { StoreLosses } from './store-losses.js';
import { RebuildFlights } from './warm.js';

export interface DataPlaneDeps {
  metrics: Metrics;
  config: AppConfig;
  database: Database;
  redis: RedisClient | null;
  logger: Logger;
  snapshot: () => ConfigSnapshot;
}

/**
 * The data plane's services over one counter store (Redis, or in-process without it), the
 * ledger batcher and the write-behind log. `close()` answers everything in flight first.
 */
export function createDataPlane(deps: DataPlaneDeps) {
  const { config, database, redis, logger, snapshot } = deps;
  // Losses of Redis data this instance detected: a rebuild of a subject Redis holds nothing
  // of waits for the write-behind only shortly after one (store-losses.ts).
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
  const checked = guard?.start() ?? Promise.resolve();
  const store: CounterStore = redis
    ? new RedisCounterStore(redis, {
        prefix: config.REDIS_KEY_PREFIX,
        ...(config.REDIS_CLUSTER
          ? { replicaAckMs: Math.max(1, Math.floor(config.STORE_TIMEOUT_MS / 2)) }
          : {}),
      })
    : new MemoryCounterStore();
  const intents = new ApplyIntents(database.db, logger);
  const refused = (table: string, rows: number) => deps.metrics.refusedRows.inc({ table }, rows);
  const batcher = new SettleBatcher(database, logger, {
    intents,
    onBatch: (size, seconds) => {
      deps.metrics.settleBatchSize.observe(size);
      deps.metrics.settleCommit.observe(seconds);
    },
    onRefused: refused,
  });
  const holds = redis ? redisOpenHolds(redis, config.REDIS_KEY_PREFIX) : memoryOpenHolds();
  const observer = metricsObserver(deps.metrics, holds);
  const writeBehind = new WriteBehind(database.db, logger, { onRefused: refused });
  const health = new StoreHealth();
  const writeBehindSettled = async () => {
    const started = Date.now();
    await writeBehind.flush().catch(() => undefined);
    // Other instances flush on their own timers; the in-process store has no others.
    const left = redis ? WRITE_BEHIND_SETTLE_MS - (Date.now() - started) : 0;
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
  };
  const rebuilds = new RebuildFlights();
  // One resolver for /check, /reserve, /usage and direct settles: one set of plans per snapshot.
  const resolve = createBucketResolver(snapshot, {
    defaultTimezone: config.DEFAULT_TIMEZONE,
    shadowMode: config.SHADOW_MODE,
  });
  const common = {
    store,
    db: database.db,
    snapshot,
    config,
    logger,
    health,
    observer,
    writeBehindSettled,
    lossInFlight: () => losses.inFlight(),
    rebuilds,
    resolve,
  };
  const alerts = alertForwarder({
    store,
    logger,
    sink: (crossings, now) => enqueueCrossings(database.db, crossings, now),
  });
  const sweeper = new DirtySweeper(
    { db: database.db, store, logger, health, drainAlerts: (subject) => alerts.drain(subject) },
    Math.min(1000, config.CONFIG_POLL_SECONDS * 1000),
  );
  sweeper.start();
  watch?.start();
  return {
    store,
    holds,
    batcher,
    writeBehind,
    health,
    services: {
      decisions: createDecisionService({ ...common, writeBehind }),
      settles: createSettleService({ ...common, batcher, intents, alerts, writeBehind }),
      extensions: createExtendService(common),
    },
    watch,
    /** Resolves once a connected Redis was checked for a restart from disk (restart-guard.ts). */
    checked,
    sweeper,
    async close(): Promise<void> {
      watch?.stop();
      guard?.stop();
      await sweeper.stop();
      await batcher.flush();
      await writeBehind.flush();
      await intents.flush();
      await store.close();
    },
  };
}

export type DataPlane = ReturnType<typeof createDataPlane>;
