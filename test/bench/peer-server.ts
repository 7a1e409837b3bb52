import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { RateLimiterRedis, RateLimiterUnion } from 'rate-limiter-flexible';
import type { ReplayFixture } from './replay.js';
import { serveYardstick, SIX_KEYS, sixKeysCall, yardstickEnv, yardstickRedis } from './yardstick.js';

/**
 * The yardsticks issue 9 measures /check against, each run as its own process (PEER):
 *
 * - `six-keys`: a bare Fastify route doing one EVALSHA of a script that INCRs six keys of
 *   the user (with PEXPIRE on first use) and answers the six counts: the floor of "one
 *   atomic script over six buckets".
 * - `rlf`: rate-limiter-flexible's RateLimiterUnion of six RateLimiterRedis limiters (six
 *   separate, non-atomic round trips in one pipeline-less burst) keyed by the user.
 * - `floor`: replays, per user, the decide EVALSHA quotagate itself sent for that user's
 *   /check and answers the body quotagate answered (REPLAY_FILE, replay.ts): /check's Redis
 *   work and reply size with none of quotagate's JavaScript, the ceiling of /check's rate.
 *
 * Same Node, NODE_ENV, Redis and client options as quotagate (PORT, HOST, REDIS_URL,
 * REDIS_KEY_PREFIX); the body is /check's body, so parsing costs the same.
 */
const { prefix } = yardstickEnv;
const peer = process.env.PEER === 'rlf' || process.env.PEER === 'floor' ? process.env.PEER : 'six-keys';

const redis = yardstickRedis();

redis.defineCommand('benchSix', { numberOfKeys: 6, lua: SIX_KEYS });
const benchSix = (...args: string[]): Promise<number[]> =>
  (redis as unknown as { benchSix(...a: string[]): Promise<number[]> }).benchSix(...args);

// Six limits like the fixture's six buckets: 5 h, 1 d, 1 w, key 1 d, 1 min, concurrency-ish.
const DURATIONS_S = [5 * 3600, 86_400, 7 * 86_400, 86_400, 60, 3600];
const union = new RateLimiterUnion(
  ...DURATIONS_S.map(
    (duration, i) =>
      new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `${prefix}:rlf${i}`,
        points: 1_000_000_000,
        duration,
      }),
  ),
);

const userOf = (body: unknown): string => {
  const userId = (body as { userId?: unknown } | null)?.userId;
  return typeof userId === 'string' ? userId : 'anonymous';
};

const replay =
  peer === 'floor'
    ? (JSON.parse(readFileSync(process.env.REPLAY_FILE ?? '', 'utf8')) as ReplayFixture)
    : null;

const app = Fastify({ logger: false });

app.post('/peer', async (request, reply) => {
  const user = userOf(request.body);
  if (replay !== null) {
    const [call, body] = [replay.calls[user], replay.bodies[user]];
    if (call === undefined || body === undefined) return reply.code(404).send({ userId: user });
    await redis.call('evalsha', ...call.slice(1));
    return reply.type('application/json').send(body);
  }
  if (peer === 'six-keys') {
    const counts = await benchSix(...sixKeysCall(prefix, user));
    return { allowed: true, userId: user, counts };
  }
  try {
    const result = await union.consume(user, 1);
    return { allowed: true, userId: user, remaining: Object.values(result).map((r) => r.remainingPoints) };
  } catch {
    return reply.code(429).send({ allowed: false, userId: user });
  }
});
serveYardstick(`peer ${peer}`, app, redis);
