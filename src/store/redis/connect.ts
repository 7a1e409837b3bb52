import { Redis } from 'ioredis';
import { StoreMisconfiguredError } from '../store-errors.js';
import { roundTrip } from './unavailable.js';

/**
 * A Redis client for decisions: no offline queue and no automatic resend, so a command is
 * either answered within `timeoutMs` or fails (never silently replayed later), and the
 * caller applies FAIL_MODE.
 */
export function connectRedis(url: string, timeoutMs: number): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: timeoutMs,
    connectTimeout: Math.max(timeoutMs, 1_000),
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
  });
  // Errors surface on the commands that fail; the connection keeps retrying by itself.
  redis.on('error', () => undefined);
  return redis;
}

/** Redis server time in epoch ms, for the shared clock. */
export async function redisTime(redis: Redis): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/**
 * Asks the server whether it is one quotagate can use as configured: reachable (else
 * StoreUnavailableError), and not a Redis Cluster node, which answers PING like a plain
 * server but redirects (MOVED) every key of a slot it does not own. An ACL that refuses
 * INFO only skips the question.
 */
export async function serverMisconfiguration(redis: Redis): Promise<StoreMisconfiguredError | null> {
  const info = await roundTrip(() => redis.info('cluster')).catch((err: unknown) => {
    if (err instanceof StoreMisconfiguredError && err.reply === 'NOPERM') return null;
    throw err;
  });
  if (info === null) await roundTrip(() => redis.ping());
  if (info === null || !/^cluster_enabled:1\b/m.test(info)) return null;
  return new StoreMisconfiguredError(
    'counter store misconfigured: REDIS_URL names a Redis Cluster node, which this client treats as one plain server',
    { reply: 'cluster_enabled' },
  );
}
