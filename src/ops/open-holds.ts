import type { RedisClient } from '../store/redis/client.js';

/**
 * Reservations held right now, across instances, for the `quotagate_open_holds` gauge:
 * sorted sets of request id → expiry beside the counters. Not one key every request
 * writes (in a cluster, one slot every request hits): SHARDS keys, each with a hash tag of
 * its own (`{oh.<n>}`, never a subject's: '.' is not base64url), the shard chosen by the
 * request id; the gauge sums them. Writes are fire-and-forget after the answer: a metric
 * must not add latency or fail a decision.
 */
export interface OpenHolds {
  opened(requestId: string, expiresAt: number): void;
  closed(requestId: string): void;
  count(now: number): Promise<number>;
}

export const OPEN_HOLD_SHARDS = 16;

export const openHoldsKey = (prefix: string, shard: number) => `${prefix}:{oh.${shard}}:open-holds`;

/** FNV-1a: cheap and stable, so every instance puts a request id in the same shard. */
function shardOf(requestId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < requestId.length; i++) hash = Math.imul(hash ^ requestId.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % OPEN_HOLD_SHARDS;
}

export function redisOpenHolds(redis: RedisClient, prefix: string): OpenHolds {
  const quietly = (p: Promise<unknown>) => void p.catch(() => undefined);
  const keyOf = (requestId: string) => openHoldsKey(prefix, shardOf(requestId));
  const countShard = async (key: string, now: number) => {
    await redis.zremrangebyscore(key, '-inf', now);
    return redis.zcard(key);
  };
  return {
    opened: (requestId, expiresAt) => quietly(redis.zadd(keyOf(requestId), expiresAt, requestId)),
    closed: (requestId) => quietly(redis.zrem(keyOf(requestId), requestId)),
    count: async (now) => {
      const shards = Array.from({ length: OPEN_HOLD_SHARDS }, (_, n) =>
        countShard(openHoldsKey(prefix, n), now),
      );
      return (await Promise.all(shards)).reduce((sum, n) => sum + n, 0);
    },
  };
}

export function memoryOpenHolds(): OpenHolds {
  const holds = new Map<string, number>();
  return {
    opened: (requestId, expiresAt) => void holds.set(requestId, expiresAt),
    closed: (requestId) => void holds.delete(requestId),
    count: async (now) => {
      for (const [id, expiresAt] of holds) if (expiresAt <= now) holds.delete(id);
      return holds.size;
    },
  };
}
