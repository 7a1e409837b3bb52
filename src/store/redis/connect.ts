import { Redis } from 'ioredis';

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
