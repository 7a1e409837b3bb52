import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { OffsetClock, systemClock, type Clock } from './clock.js';
import type { AppConfig } from './config.js';
import { openPglite, openPostgres, type Database } from './db/client.js';
import { applyMigrations } from './db/migrate.js';
import { connectRedis, redisTime } from './store/redis/connect.js';

export interface Infrastructure {
  database: Database;
  redis: Redis | null;
  clock: Clock;
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
    let redis: Redis | null = null;
    let clock: Clock = systemClock;
    if (config.REDIS_URL) {
      redis = connectRedis(config.REDIS_URL, config.STORE_TIMEOUT_MS);
      await redis.connect();
      const offsetClock = new OffsetClock(() => redisTime(redis as Redis));
      await offsetClock.start();
      clock = offsetClock;
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
