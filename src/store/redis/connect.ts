import { Cluster, Redis } from 'ioredis';
import { StoreMisconfiguredError } from '../store-errors.js';
import { roundTrip } from './unavailable.js';
import { isCluster, type RedisClient } from './client.js';

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

/**
 * A Cluster client on comma-separated seed URLs, with the same contract as connectRedis:
 * no offline queue and no resend on a node's connection, a command answered within
 * `timeoutMs` or failed. ioredis follows MOVED/ASK itself and refreshes the slot map; a
 * failover shows as connection errors or CLUSTERDOWN until the replica is promoted
 * (FAIL_MODE meanwhile).
 */
export function connectRedisCluster(seeds: string, timeoutMs: number): Cluster {
  const nodes = seeds
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const url = new URL(s);
      return { host: url.hostname, port: Number(url.port || 6379) };
    });
  const first = new URL(seeds.split(',')[0]?.trim() ?? '');
  const cluster = new Cluster(nodes, {
    lazyConnect: true,
    enableOfflineQueue: false,
    // A redirection or CLUSTERDOWN is retried a few times, briefly, inside one commandTimeout.
    maxRedirections: 4,
    retryDelayOnFailover: 50,
    retryDelayOnClusterDown: 50,
    retryDelayOnTryAgain: 50,
    slotsRefreshTimeout: Math.max(timeoutMs, 1_000),
    clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
    redisOptions: {
      maxRetriesPerRequest: 0,
      commandTimeout: timeoutMs,
      connectTimeout: Math.max(timeoutMs, 1_000),
      ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
      ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
    },
  });
  cluster.on('error', () => undefined);
  return cluster;
}

/** REDIS_URL as REDIS_CLUSTER says: one server, or the seed nodes of a cluster. */
export function connectStore(url: string, cluster: boolean, timeoutMs: number): RedisClient {
  return cluster ? connectRedisCluster(url, timeoutMs) : connectRedis(url, timeoutMs);
}

/** Redis server time in epoch ms, for the shared clock. */
export async function redisTime(redis: RedisClient): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/**
 * Asks the server whether it is one quotagate can use as configured: reachable (else
 * StoreUnavailableError), and not a Redis Cluster node, which answers PING like a plain
 * server but redirects (MOVED) every key of a slot it does not own. An ACL that refuses
 * INFO only skips the question.
 */
export async function serverMisconfiguration(redis: RedisClient): Promise<StoreMisconfiguredError | null> {
  if (isCluster(redis)) {
    // The cluster client already refused a plain server (CLUSTER SLOTS fails); reachability only.
    await roundTrip(redis, () => redis.ping());
    return null;
  }
  const info = await roundTrip(redis, () => redis.info('cluster')).catch((err: unknown) => {
    if (err instanceof StoreMisconfiguredError && err.reply === 'NOPERM') return null;
    throw err;
  });
  if (info === null) await roundTrip(redis, () => redis.ping());
  if (info === null || !/^cluster_enabled:1\b/m.test(info)) return null;
  return new StoreMisconfiguredError(
    'counter store misconfigured: REDIS_URL names a Redis Cluster node, which this client treats as one plain server',
    { reply: 'cluster_enabled' },
  );
}
