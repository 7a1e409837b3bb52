import type { RedisClient } from '../../store/redis/client.js';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Database } from '../../db/client.js';
import type { StoreHealth } from '../../recovery/store-health.js';
import type { Metrics } from '../../ops/metrics.js';
import type { ConfigSync } from '../../snapshot/config-sync.js';
import { serverMisconfiguration } from '../../store/redis/connect.js';
import { StoreMisconfiguredError } from '../../store/store-errors.js';
import type { ZodApp } from '../types.js';

export interface OpsDeps {
  database: Database;
  redis: RedisClient | null;
  sync: ConfigSync;
  metrics: Metrics;
  health: StoreHealth;
}

const check = z.enum(['ok', 'fail', 'absent']);
const redisCheck = z
  .enum(['ok', 'fail', 'absent', 'misconfigured'])
  .describe('misconfigured: Redis answers, but not as configured (see the service log)');
const readySchema = z
  .object({
    ready: z.boolean(),
    checks: z.object({ postgres: check, redis: redisCheck, snapshot: check }),
    configVersion: z.number().int(),
  })
  .meta({ id: 'Readiness' });

async function probe(run: () => Promise<unknown>): Promise<'ok' | 'fail'> {
  try {
    await run();
    return 'ok';
  } catch {
    return 'fail';
  }
}

/** Reachable and of the kind configured, and no decision met a misconfiguration lately. */
async function probeRedis(
  redis: RedisClient,
  health: StoreHealth,
  logger: Pick<Logger, 'error'>,
): Promise<z.infer<typeof redisCheck>> {
  try {
    const problem = await serverMisconfiguration(redis);
    if (problem) health.recordMisconfigured(problem, logger);
  } catch (err) {
    if (!(err instanceof StoreMisconfiguredError)) return 'fail';
    health.recordMisconfigured(err, logger);
  }
  return health.misconfiguration ? 'misconfigured' : 'ok';
}

/** Unauthenticated: liveness, readiness (stores reachable, snapshot loaded), Prometheus. */
export async function opsRoutes(app: ZodApp, deps: OpsDeps): Promise<void> {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['ops'],
        summary: 'Liveness: the process is up',
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['ops'],
        summary: 'Readiness: PostgreSQL reachable, Redis reachable when configured, snapshot loaded',
        response: { 200: readySchema, 503: readySchema },
      },
    },
    async (request, reply) => {
      const { database, redis, sync, health } = deps;
      const [postgres, redisState] = await Promise.all([
        probe(() => database.ping()),
        redis ? probeRedis(redis, health, request.log) : Promise.resolve('absent' as const),
      ]);
      const snapshot = sync.loaded ? ('ok' as const) : ('fail' as const);
      const ready =
        postgres === 'ok' && (redisState === 'ok' || redisState === 'absent') && snapshot === 'ok';
      return reply.code(ready ? 200 : 503).send({
        ready,
        checks: { postgres, redis: redisState, snapshot },
        configVersion: sync.current().version,
      });
    },
  );

  app.get(
    '/metrics',
    { schema: { tags: ['ops'], summary: 'Prometheus metrics', produces: ['text/plain'] } },
    async (_request, reply) => {
      const body = await deps.metrics.registry.metrics();
      return reply.type(deps.metrics.registry.contentType).send(body);
    },
  );
}
