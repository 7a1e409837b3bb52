import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { pino, type Logger } from 'pino';
import { buildApp } from '../../src/app.js';
import { ManualClock, type Clock } from '../../src/clock.js';
import { loadConfig, type Env } from '../../src/config.js';
import { openPglite, openPostgres, type Database } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { resolveTokens } from '../../src/http/auth.js';
import type { RedisClient } from '../../src/store/redis/client.js';
import { connectStore } from '../../src/store/redis/connect.js';

export const ADMIN_TOKEN = 'admin-token-0001';
export const SERVICE_TOKEN = 'service-token-0001';
export const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
export const SERVICE = { authorization: `Bearer ${SERVICE_TOKEN}` };

export interface TestAppOptions {
  /** A PostgreSQL URL, or omitted for an in-memory PGlite. */
  databaseUrl?: string;
  redisUrl?: string;
  redisPrefix?: string;
  env?: Partial<Record<keyof Env, string>>;
  clock?: Clock;
  configPubSub?: boolean;
  /** Skip migrations (the caller already applied them). */
  migrate?: boolean;
  /** A logger to read what the app logged; silent by default. */
  logger?: Logger;
}

export interface TestApp {
  app: FastifyInstance;
  database: Database;
  redis: RedisClient | null;
  clock: Clock;
  inject(options: InjectOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** The real app through buildApp, against real stores, for `inject`-driven tests. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    ADMIN_TOKENS: `ops:${ADMIN_TOKEN}`,
    SERVICE_TOKENS: `gateway:${SERVICE_TOKEN}`,
    REDIS_KEY_PREFIX: options.redisPrefix ?? 'qg',
    QUOTA_TEST_CLOCK: 'true',
    ...options.env,
  });
  const database = options.databaseUrl ? openPostgres(options.databaseUrl, 4) : await openPglite('memory://');
  if (options.migrate !== false) await applyMigrations(database);
  const redis = options.redisUrl
    ? connectStore(options.redisUrl, config.REDIS_CLUSTER, config.STORE_TIMEOUT_MS)
    : null;
  await redis?.connect();
  const clock = options.clock ?? new ManualClock();
  const app = await buildApp({
    config,
    database,
    redis,
    clock,
    logger: options.logger ?? pino({ level: 'silent' }),
    tokens: resolveTokens(config),
    configPubSub: options.configPubSub,
  });
  // Starts the background jobs (config sync, sweeper, …) as listen would, before any request.
  await app.ready();
  return {
    app,
    database,
    redis,
    clock,
    inject: (o) => app.inject(o),
    close: async () => {
      await app.close();
      redis?.disconnect();
      await database.close();
    },
  };
}
