import { z } from 'zod';
import type { Database } from '../../db/client.js';
import type { Metrics } from '../../ops/metrics.js';
import type { ConfigSync } from '../../snapshot/config-sync.js';
import type { ZodApp } from '../types.js';
import type { Redis } from 'ioredis';

export interface OpsDeps {
  database: Database;
  redis: Redis | null;
  sync: ConfigSync;
  metrics: Metrics;
}

const check = z.enum(['ok', 'fail', 'absent']);
const readySchema = z
  .object({
    ready: z.boolean(),
    checks: z.object({ postgres: check, redis: check, snapshot: check }),
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
    async (_request, reply) => {
      const { database, redis, sync } = deps;
      const [postgres, redisState] = await Promise.all([
        probe(() => database.ping()),
        redis ? probe(() => redis.ping()) : Promise.resolve('absent' as const),
      ]);
      const snapshot = sync.loaded ? ('ok' as const) : ('fail' as const);
      const ready = postgres === 'ok' && redisState !== 'fail' && snapshot === 'ok';
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
