import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { sessionAdmissions, usageLedger } from '../../src/db/schema.js';
import { ADMIN, SERVICE, startTestApp, type TestApp } from '../support/app.js';
import { redisServerAvailable, startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { describeWithServers, services, useRedisPrefix, useTestDatabase } from '../support/services.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { until } from '../support/until.js';
import { startBehindRedisProxy } from './fault-support.js';

const MODEL = 'claude-opus-4-1';
const NOW = Date.parse('2027-03-10T12:00:00Z');

function client(t: TestApp, now = NOW) {
  const headers = { ...SERVICE, 'x-quota-test-now': String(now) };
  return {
    post: (url: string, payload: Record<string, unknown>) =>
      t.inject({ method: 'POST', url, headers, payload }),
    usage: async (userId: string) =>
      (await t.inject({ method: 'GET', url: `/usage?userId=${userId}&model=${MODEL}`, headers })).json() as {
        buckets: { metric: string; used: number; held: number }[];
      },
  };
}

/** One model group and the given user limits, through the admin API. */
async function configure(t: TestApp, limits: Record<string, unknown>[]) {
  const group = await t.inject({
    method: 'POST',
    url: '/admin/model-groups',
    headers: ADMIN,
    payload: { name: 'opus', models: [MODEL] },
  });
  expect(group.statusCode).toBe(201);
  for (const limit of limits) {
    const put = await t.inject({
      method: 'PUT',
      url: '/admin/limits',
      headers: ADMIN,
      payload: { subjectType: 'user', subjectId: 'u-1', modelGroupId: null, ...limit },
    });
    expect(put.statusCode).toBe(201);
  }
}

async function migrated(url: string) {
  const direct = openPostgres(url, 1);
  await applyMigrations(direct);
  await direct.close();
}

describeWithServers('Redis loses its data (FLUSHALL between decisions)', () => {
  const databaseUrl = useTestDatabase();
  let redis: PrivateRedis | null = null;
  let t: TestApp;
  const enabled = redisServerAvailable();

  beforeAll(async () => {
    if (!enabled) return;
    redis = await startPrivateRedis();
    t = await startTestApp({ databaseUrl: databaseUrl(), redisUrl: redis.url });
    await configure(t, [
      { metric: 'cost', window: '5h', limit: 1 },
      { metric: 'requests', window: '1h', limit: 3 },
      { metric: 'sessions', window: '1h', limit: 1 },
    ]);
  });
  afterAll(async () => {
    await t?.close();
    await redis?.stop();
  });

  it.skipIf(!enabled)('rebuilds counters and session admissions from PostgreSQL', async () => {
    const api = client(t);
    const reserved = await api.post('/reserve', {
      userId: 'u-1',
      model: MODEL,
      requestId: 'r-1',
      estimatedCostUsd: 0.1,
      sessionId: 's-1',
    });
    expect(reserved.statusCode).toBe(200);
    expect((await api.post('/settle', { requestId: 'r-1', costUsd: 0.6 })).statusCode).toBe(200);
    expect(
      (await api.post('/settle', { requestId: 'r-2', costUsd: 0.05, userId: 'u-1', model: MODEL }))
        .statusCode,
    ).toBe(200);
    await until(async () => (await t.database.db.select().from(sessionAdmissions)).length === 1);
    const before = await api.usage('u-1');

    const admin = new Redis(redis?.url ?? '');
    await admin.flushall();
    admin.disconnect();

    const after = await api.usage('u-1');
    expect(after.buckets).toEqual(before.buckets);
    const cost = after.buckets.find((b) => b.metric === 'cost');
    expect(cost?.used).toBe(0.65);
    expect(after.buckets.find((b) => b.metric === 'requests')?.used).toBe(2);

    const tooMuch = await api.post('/check', { userId: 'u-1', model: MODEL, estimatedCostUsd: 0.4 });
    expect(tooMuch.statusCode).toBe(429);
    const newSession = await api.post('/check', { userId: 'u-1', model: MODEL, sessionId: 's-2' });
    expect(newSession.statusCode).toBe(429);
    expect(newSession.json().reason).toContain('sessions 1h');
    const reconnect = await api.post('/check', { userId: 'u-1', model: MODEL, sessionId: 's-1' });
    expect(reconnect.statusCode).toBe(200);
  });
});

describeWithServers('Redis restarts from a snapshot older than its last settles', () => {
  const databaseUrl = useTestDatabase();
  let redis: PrivateRedis | null = null;
  let dir = '';
  let t: TestApp;
  const enabled = redisServerAvailable();

  beforeAll(async () => {
    if (!enabled) return;
    dir = mkdtempSync(path.join(tmpdir(), 'qg-snapshot-'));
    redis = await startPrivateRedis({ dir });
    t = await startTestApp({ databaseUrl: databaseUrl(), redisUrl: redis.url, env: { FAIL_MODE: 'closed' } });
    await configure(t, [
      { metric: 'cost', window: 'total', limit: 10 },
      { metric: 'requests', window: '1h', limit: 100 },
    ]);
  });
  afterAll(async () => {
    await t?.close();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const spend = async (requestId: string, costUsd: number) => {
    const api = client(t);
    const reserve = { userId: 'u-1', model: MODEL, requestId, estimatedCostUsd: costUsd };
    expect((await api.post('/reserve', reserve)).statusCode).toBe(200);
    expect((await api.post('/settle', { requestId, costUsd })).statusCode).toBe(200);
  };
  const used = async (metric: string) =>
    (await client(t).usage('u-1')).buckets.find((b) => b.metric === metric)?.used;
  /** Until the app reconnected and verified the server: until then it answers as if Redis were down. */
  const reconnected = async () => {
    await until(
      async () => (await client(t).post('/check', { userId: 'u-1', model: MODEL })).statusCode !== 503,
      10_000,
    );
  };

  it.skipIf(!enabled)(
    'forgets the restored warm flags and rebuilds the settles the snapshot missed',
    async () => {
      const api = client(t);
      await spend('r-1', 1);
      // A snapshot with the warm flags and $1, then $2 more that only the ledger and the live
      // counters hold: what an RDB or an AOF written each second keeps of a crash.
      const admin = new Redis(redis?.url ?? '');
      await admin.call('SAVE');
      admin.disconnect();
      await spend('r-2', 2);
      expect(await used('cost')).toBe(3);

      await redis?.restart();
      const reader = new Redis(redis?.url ?? '');
      expect(await reader.keys('*:warm')).not.toHaveLength(0); // the snapshot brought them back
      reader.disconnect();
      await reconnected();
      expect(await used('cost')).toBe(3);
      expect(await used('requests')).toBe(2);
      const over = await api.post('/check', { userId: 'u-1', model: MODEL, estimatedCostUsd: 7.5 });
      expect(over.statusCode).toBe(429);
    },
  );

  it.skipIf(!enabled)(
    'also when a FLUSHALL dropped the verified run id before the snapshot was taken',
    async () => {
      const api = client(t);
      const admin = new Redis(redis?.url ?? '');
      await admin.flushall(); // the connections stay: nobody checks again until a restart
      await spend('r-3', 1); // rebuilt from the ledger: $3 + $1, flagged warm
      await admin.call('SAVE');
      admin.disconnect();
      await spend('r-4', 2);
      expect(await used('cost')).toBe(6);

      await redis?.restart();
      await reconnected();
      expect(await used('cost')).toBe(6);
      expect(await used('requests')).toBe(4);
      const over = await api.post('/check', { userId: 'u-1', model: MODEL, estimatedCostUsd: 4.5 });
      expect(over.statusCode).toBe(429);
    },
  );
});

describe.each(['open', 'closed'] as const)('Redis unreachable with FAIL_MODE=%s', (mode) => {
  const databaseUrl = useTestDatabase();
  const prefix = useRedisPrefix();
  let proxy: TcpProxy;
  let t: TestApp;
  const run = services.postgresUrl && services.redisUrl ? it : it.skip;

  beforeAll(async () => {
    if (!services.redisUrl || !services.postgresUrl) return;
    ({ proxy, t } = await startBehindRedisProxy({
      databaseUrl: databaseUrl(),
      redisPrefix: prefix,
      env: { FAIL_MODE: mode, STORE_TIMEOUT_MS: '100' },
    }));
    await configure(t, [{ metric: 'requests', window: '1h', limit: 100 }]);
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.stop();
  });

  run(
    mode === 'open' ? 'admits with failOpen and records nothing' : 'answers 503 with Retry-After',
    async () => {
      const api = client(t);
      expect((await api.post('/check', { userId: 'u-1', model: MODEL })).statusCode).toBe(200);
      proxy.cut();
      for (const [url, body] of [
        ['/check', { userId: 'u-1', model: MODEL }],
        ['/reserve', { userId: 'u-1', model: MODEL, requestId: 'down-1' }],
      ] as const) {
        const response = await api.post(url, body);
        if (mode === 'open') {
          expect(response.statusCode).toBe(200);
          expect(response.json()).toMatchObject({ allowed: true, failOpen: true, reservation: null });
        } else {
          expect(response.statusCode).toBe(503);
          expect(response.headers['retry-after']).toBe('1');
          expect(response.json()).toMatchObject({ code: 'store_unavailable' });
        }
      }
      proxy.restore();
      await until(
        async () => (await api.post('/check', { userId: 'u-1', model: MODEL })).json().failOpen === false,
      );
      expect((await api.usage('u-1')).buckets.find((b) => b.metric === 'requests')?.used).toBe(0);
    },
  );
});

describeWithServers('PostgreSQL unreachable', () => {
  const databaseUrl = useTestDatabase();
  const prefix = useRedisPrefix();
  let proxy: TcpProxy;
  let t: TestApp;

  beforeAll(async () => {
    await migrated(databaseUrl());
    proxy = TcpProxy.forUrl(databaseUrl());
    await proxy.start();
    t = await startTestApp({
      databaseUrl: proxy.urlFor(databaseUrl()),
      redisUrl: services.redisUrl ?? undefined,
      redisPrefix: prefix,
      migrate: false,
    });
    await configure(t, [{ metric: 'cost', window: 'daily', limit: 10 }]);
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.stop();
  });

  it('keeps deciding, answers settles 503, then charges once on retry', async () => {
    const api = client(t);
    expect(
      (await api.post('/reserve', { userId: 'u-1', model: MODEL, requestId: 'r-1', estimatedCostUsd: 1 }))
        .statusCode,
    ).toBe(200);
    proxy.cut();
    expect((await api.post('/check', { userId: 'u-1', model: MODEL, estimatedCostUsd: 1 })).statusCode).toBe(
      200,
    );
    expect((await api.post('/reserve', { userId: 'u-1', model: MODEL, requestId: 'r-2' })).statusCode).toBe(
      200,
    );

    const refused = await api.post('/settle', { requestId: 'r-1', costUsd: 2.5 });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json()).toMatchObject({ code: 'database_unavailable' });

    proxy.restore();
    const retried = await api.post('/settle', { requestId: 'r-1', costUsd: 2.5 });
    expect(retried.statusCode).toBe(200);
    expect(retried.json()).toMatchObject({ duplicate: false, costUsd: 2.5 });
    const again = await api.post('/settle', { requestId: 'r-1', costUsd: 2.5 });
    expect(again.json()).toMatchObject({ duplicate: true });

    const rows = await t.database.db.select().from(usageLedger).where(eq(usageLedger.requestId, 'r-1'));
    expect(rows.map((r) => r.costMicros)).toEqual([2_500_000]);
    expect((await api.usage('u-1')).buckets.find((b) => b.metric === 'cost')).toMatchObject({
      used: 2.5,
      held: 0,
    });
  });
});

describeWithServers('a settle committed while Redis was unreachable', () => {
  const databaseUrl = useTestDatabase();
  const prefix = useRedisPrefix();
  let proxy: TcpProxy;
  let t: TestApp;

  beforeAll(async () => {
    ({ proxy, t } = await startBehindRedisProxy({
      databaseUrl: databaseUrl(),
      redisPrefix: prefix,
      env: { STORE_TIMEOUT_MS: '100', CONFIG_POLL_SECONDS: '0.2' },
    }));
    await configure(t, [{ metric: 'cost', window: 'daily', limit: 10 }]);
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.stop();
  });

  it('is counted once Redis is back (its subject rebuilds from the ledger)', async () => {
    const api = client(t);
    expect((await api.usage('u-1')).buckets.find((b) => b.metric === 'cost')?.used).toBe(0);
    proxy.cut();
    const settled = await api.post('/settle', { requestId: 'd-1', costUsd: 3, userId: 'u-1', model: MODEL });
    expect(settled.statusCode).toBe(200);
    proxy.restore();
    // /usage answers 503 until the client has reconnected.
    await until(async () => (await api.usage('u-1')).buckets?.find((b) => b.metric === 'cost')?.used === 3);
    // Rebuilt from the ledger, never added twice.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await api.usage('u-1')).buckets.find((b) => b.metric === 'cost')?.used).toBe(3);
  });
});
