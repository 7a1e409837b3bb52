import type { Redis } from 'ioredis';

/**
 * Reservations held right now, across instances, for the `quotagate_open_holds` gauge: a
 * sorted set of request id → expiry beside the counters (its own key, so it never joins a
 * decision's hash tag). Writes are fire-and-forget after the answer: a metric must not add
 * latency or fail a decision.
 */
export interface OpenHolds {
  opened(requestId: string, expiresAt: number): void;
  closed(requestId: string): void;
  count(now: number): Promise<number>;
}

export function redisOpenHolds(redis: Redis, key: string): OpenHolds {
  const quietly = (p: Promise<unknown>) => void p.catch(() => undefined);
  return {
    opened: (requestId, expiresAt) => quietly(redis.zadd(key, expiresAt, requestId)),
    closed: (requestId) => quietly(redis.zrem(key, requestId)),
    count: async (now) => {
      await redis.zremrangebyscore(key, '-inf', now);
      return redis.zcard(key);
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
