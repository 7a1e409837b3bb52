import type { Logger } from 'pino';
import { OffsetClock, systemClock, type Clock } from './clock.js';
import type { AppConfig } from './config.js';
import { openPglite, openPostgres, type Database } from './db/client.js';
import { applyMigrations } from './db/migrate.js';
import type { RedisClient } from './store/redis/client.js';
import { connectStore, redisTime } from './store/redis/connect.js';

export interface Infrastructure {
  database: Database;
  redis: RedisClient | null;
  clock: Clock;
  /**
   * Stops the Redis clock's measuring loop (the one loop outside the app's jobs: the app
   * takes the clock as a dependency, so it outlives the app) and closes the stores.
   */
  close(): Promise<void>;
}

/** Opens the stores the config names (embedded ones when unset) and applies migrations. */
export async function openInfrastructure(config: AppConfig, logger: Logger): Promise<Infrastructure> {
  const database = config.DATABASE_URL
    ? openPostgres(config.DATABASE_URL)
    : await openPglite(config.DATA_DIR);
  if (!config.DATABASE_URL) logger.info({ dataDir: config.DATA_DIR }, 'embedded PostgreSQL (PGlite)');
  try {
    if (config.AUTO_MIGRATE) await applyMigrations(database);
    let redis: RedisClient | null = null;
    let clock: Clock = systemClock;
    if (config.REDIS_URL) {
      redis = connectStore(config.REDIS_URL, config.REDIS_CLUSTER, config.STORE_TIMEOUT_MS);
      clock = await followRedis(redis, logger);
    } else {
      logger.warn('REDIS_URL unset: in-process counter store, single instance only');
    }
    return {
      database,
      redis,
      clock,
      close: async () => {
        if (clock instanceof OffsetClock) clock.stop();
        redis?.disconnect();
        await database.close();
      },
    };
  } catch (err) {
    await database.close();
    throw err;
  }
}

/**
 * Connects and starts the Redis clock without waiting for Redis: the service starts and
 * serves by FAIL_MODE while it is unreachable (SPEC §4.6). The client keeps reconnecting
 * (connectRedis' retryStrategy), and every connection re-measures the clock.
 */
async function followRedis(redis: RedisClient, logger: Logger): Promise<OffsetClock> {
  const clock = new OffsetClock(() => redisTime(redis));
  redis.on('ready', () => void clock.remeasure());
  try {
    await redis.connect();
  } catch (err) {
    logger.warn(
      { err: err instanceof Error ? err.message : String(err) },
      'Redis unreachable at start: decisions follow FAIL_MODE until it answers; reconnecting',
    );
  }
  await clock.start();
  return clock;
}
