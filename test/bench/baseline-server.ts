import Fastify from 'fastify';
import { serveYardstick, yardstickEnv, yardstickRedis } from './yardstick.js';

/**
 * The yardstick: what one Fastify route costs when all it does is parse a JSON body, run
 * one EVALSHA of a trivial script and answer a small JSON. quotagate's /check does that
 * plus auth, validation, bucket resolution, a heavier script and a larger reply; the
 * ratio of the two says how much of the budget quotagate's own work takes.
 *
 * Run as its own process with the same Node, NODE_ENV and Redis as quotagate
 * (PORT, HOST, REDIS_URL, REDIS_KEY_PREFIX).
 */
const { prefix } = yardstickEnv;

const redis = yardstickRedis();
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
serveYardstick('baseline', app, redis);
