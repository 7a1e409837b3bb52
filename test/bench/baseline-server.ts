import Fastify from 'fastify';
import { Redis } from 'ioredis';

/**
 * The yardstick: what one Fastify route costs when all it does is parse a JSON body, run
 * one EVALSHA of a trivial script and answer a small JSON. quotagate's /check does that
 * plus auth, validation, bucket resolution, a heavier script and a larger reply; the
 * ratio of the two says how much of the budget quotagate's own work takes.
 *
 * Run as its own process with the same Node, NODE_ENV and Redis as quotagate
 * (PORT, HOST, REDIS_URL, REDIS_KEY_PREFIX).
 */
const port = Number(process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';
const prefix = process.env.REDIS_KEY_PREFIX ?? 'qgbench';

// The same client options as quotagate's connectRedis: no offline queue, no resend.
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  commandTimeout: 250,
});
redis.on('error', () => undefined);
// defineCommand sends EVALSHA (EVAL once on NOSCRIPT), like quotagate's scripts.
redis.defineCommand('benchIncr', { numberOfKeys: 1, lua: "return redis.call('INCR', KEYS[1])" });
const benchIncr = (key: string): Promise<number> =>
  (redis as unknown as { benchIncr(key: string): Promise<number> }).benchIncr(key);
const key = `${prefix}:baseline`;

const app = Fastify({ logger: false });

app.post('/baseline', async (request) => {
  const body = request.body as { userId?: unknown };
  const n = await benchIncr(key);
  return { allowed: true, status: 'ok', userId: typeof body?.userId === 'string' ? body.userId : null, n };
});
app.get('/readyz', async () => ({ ready: (await redis.ping()) === 'PONG' }));

async function main() {
  await redis.connect();
  await app.listen({ port, host });
  const shutdown = () => {
    void app.close().then(() => {
      redis.disconnect();
      process.exit(0);
    });
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`baseline: failed to start: ${String(err)}\n`);
  process.exit(1);
});
