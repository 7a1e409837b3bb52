import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';

/** What the baseline and peer servers share: quotagate's Redis client options and a lifecycle. */
export const yardstickEnv = {
  port: Number(process.env.PORT ?? 0),
  host: process.env.HOST ?? '127.0.0.1',
  prefix: process.env.REDIS_KEY_PREFIX ?? 'qgbench',
};

/** The six-key peer's script: INCR six keys of the user, PEXPIRE (ARGV[1] ms) on first use. */
export const SIX_KEYS = `local out = {}
for i = 1, 6 do
  local n = redis.call('INCR', KEYS[i])
  if n == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
  out[i] = n
end
return out`;

/** The six-key peer's call for a user: its six keys (one hash tag) and the TTL. */
export const sixKeysCall = (prefix: string, user: string): string[] => {
  const k = `${prefix}:six:{${user}}`;
  return [`${k}:a`, `${k}:b`, `${k}:c`, `${k}:d`, `${k}:e`, `${k}:f`, '3600000'];
};

/** The same client options as quotagate's connectRedis: no offline queue, no resend. */
export function yardstickRedis(): Redis {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 250,
  });
  redis.on('error', () => undefined);
  return redis;
}

/** Adds /readyz, connects, listens; SIGTERM/SIGINT close both. Exits 1 when start fails. */
export function serveYardstick(name: string, app: FastifyInstance, redis: Redis): void {
  app.get('/readyz', async () => ({ ready: (await redis.ping()) === 'PONG' }));
  const start = async () => {
    await redis.connect();
    await app.listen({ port: yardstickEnv.port, host: yardstickEnv.host });
    const shutdown = () => {
      void app.close().then(() => {
        redis.disconnect();
        process.exit(0);
      });
    };
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
  };
  start().catch((err: unknown) => {
    process.stderr.write(`${name}: failed to start: ${String(err)}\n`);
    process.exit(1);
  });
}
