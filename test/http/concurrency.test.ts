import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type Database } from '../../src/db/client.js';
import { usageLedger } from '../../src/db/schema.js';
import { ADMIN, SERVICE } from '../support/app.js';
import {
  clusterToolsAvailable,
  startPrivateCluster,
  type PrivateCluster,
} from '../support/private-cluster.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { describeWithServers, services, useRedisPrefix, useTestDatabase } from '../support/services.js';

const MODEL = 'claude-opus-4-1';

async function call(base: string, path: string, body: unknown, headers = SERVICE) {
  const response = await fetch(`${base}${path}`, {
    method: path === '/admin/limits' ? 'PUT' : 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function usageOf(base: string, userId: string) {
  const response = await fetch(`${base}/usage?userId=${userId}&model=${MODEL}`, { headers: SERVICE });
  return (await response.json()) as { buckets: { metric: string; used: number; held: number }[] };
}

/** Where the instances keep their counters: the env that points them there, and its teardown. */
interface RedisBackend {
  env(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

function sharedRedis(): RedisBackend {
  const prefix = useRedisPrefix();
  return {
    env: async () => ({ REDIS_URL: services.redisUrl ?? '', REDIS_KEY_PREFIX: prefix }),
    stop: async () => undefined,
  };
}

function privateCluster(): RedisBackend {
  let cluster: PrivateCluster | null = null;
  return {
    env: async () => {
      cluster = await startPrivateCluster({ masters: 3, replicasPerMaster: 1 });
      return { REDIS_URL: cluster.seeds, REDIS_CLUSTER: 'true', REDIS_KEY_PREFIX: 'qgc' };
    },
    stop: async () => cluster?.stop(),
  };
}

const backends = [
  { name: 'one PostgreSQL + Redis', enabled: true, backend: sharedRedis },
  {
    name: 'one PostgreSQL + a 3 + 3 Redis Cluster',
    enabled: clusterToolsAvailable(),
    backend: privateCluster,
  },
];
if (!clusterToolsAvailable())
  console.warn('redis-server/redis-cli missing: two instances on a Redis Cluster SKIPPED');

for (const { name, enabled, backend } of backends)
  (enabled ? describeWithServers : describe.skip)(`two instances on ${name} never over-admit`, () => {
    const databaseUrl = useTestDatabase();
    const redis = backend();
    let a: ServerProcess;
    let b: ServerProcess;
    let database: Database;

    beforeAll(async () => {
      // Atomicity, not latency, is under test: a loaded CI machine must not turn a slow Redis
      // call into a fail-open admission, and any store failure must show (FAIL_MODE=closed).
      const env = {
        DATABASE_URL: databaseUrl(),
        ...(await redis.env()),
        STORE_TIMEOUT_MS: '10000',
        FAIL_MODE: 'closed',
      };
      [a, b] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
      database = openPostgres(databaseUrl(), 2);
      const group = await call(a.url, '/admin/model-groups', { name: 'opus', models: [MODEL] }, ADMIN);
      expect(group.status).toBe(201);
      const limits = [
        { subjectId: 'u-requests', metric: 'requests', window: '1h', limit: 50 },
        { subjectId: 'u-cost', metric: 'cost', window: 'daily', limit: 3 },
        { subjectId: 'u-settle', metric: 'cost', window: 'daily', limit: 100 },
      ];
      for (const limit of limits) {
        const put = await call(
          a.url,
          '/admin/limits',
          { subjectType: 'user', modelGroupId: null, ...limit },
          ADMIN,
        );
        expect(put.status).toBe(201);
      }
      // Instance b serves the same config version before the race starts.
      const versionOf = async (base: string) =>
        ((await (await fetch(`${base}/readyz`)).json()) as { configVersion: number }).configVersion;
      const target = await versionOf(a.url);
      const deadline = Date.now() + 20_000;
      while ((await versionOf(b.url)) < target) {
        if (Date.now() > deadline) throw new Error('instance b never saw the config');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }, 150_000);

    afterAll(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await database?.close();
      await redis.stop();
    });

    /** `n` reserves, alternating between the instances, all in flight at once. */
    async function race(n: number, body: (i: number) => Record<string, unknown>) {
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) => call(i % 2 === 0 ? a.url : b.url, '/reserve', body(i))),
      );
      const statuses = results.map((r) => r.status);
      return {
        admitted: statuses.filter((s) => s === 200).length,
        refused: statuses.filter((s) => s === 429).length,
      };
    }

    it('admits exactly 50 of 200 parallel reserves against a requests cap of 50', async () => {
      const outcome = await race(200, (i) => ({ userId: 'u-requests', model: MODEL, requestId: `req-${i}` }));
      expect(outcome).toEqual({ admitted: 50, refused: 150 });
      const usage = await usageOf(a.url, 'u-requests');
      expect(usage.buckets.find((x) => x.metric === 'requests')?.used).toBe(50);
    });

    it('admits exactly 30 of 100 parallel $0.10 holds against $3', async () => {
      const outcome = await race(100, (i) => ({
        userId: 'u-cost',
        model: MODEL,
        requestId: `cost-${i}`,
        estimatedCostUsd: 0.1,
      }));
      expect(outcome).toEqual({ admitted: 30, refused: 70 });
      const cost = (await usageOf(b.url, 'u-cost')).buckets.find((x) => x.metric === 'cost');
      expect(cost).toMatchObject({ used: 0, held: 3 });
    });

    it('charges once when the same settle reaches both instances at once', async () => {
      const reserved = await call(a.url, '/reserve', {
        userId: 'u-settle',
        model: MODEL,
        requestId: 'twice',
        estimatedCostUsd: 1,
      });
      expect(reserved.status).toBe(200);
      const settle = { requestId: 'twice', costUsd: 0.4217 };
      const [first, second] = await Promise.all([
        call(a.url, '/settle', settle),
        call(b.url, '/settle', settle),
      ]);
      expect([first.status, second.status]).toEqual([200, 200]);
      expect([first.body.duplicate, second.body.duplicate].sort()).toEqual([false, true]);

      const rows = await database.db.select().from(usageLedger).where(eq(usageLedger.requestId, 'twice'));
      expect(rows.map((r) => r.costMicros)).toEqual([421_700]);
      for (const instance of [a, b]) {
        const cost = (await usageOf(instance.url, 'u-settle')).buckets.find((x) => x.metric === 'cost');
        expect(cost).toMatchObject({ used: 0.4217, held: 0 });
      }
    });
  });
