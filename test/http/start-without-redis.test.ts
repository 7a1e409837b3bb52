import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, SERVICE } from '../support/app.js';
import { redisServerAvailable, startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { freePort, startServerProcess, type ServerProcess } from '../support/server-process.js';
import { services, useTestDatabase } from '../support/services.js';
import { MODEL, until } from './fault-support.js';

/** The real server process, started with REDIS_URL naming a port where nothing listens yet. */
describe.each(['open', 'closed'] as const)('starting while Redis is unreachable, FAIL_MODE=%s', (mode) => {
  const databaseUrl = useTestDatabase();
  const enabled = Boolean(services.postgresUrl) && redisServerAvailable();
  const run = enabled ? it : it.skip;
  let port = 0;
  let server: ServerProcess | null = null;
  let redis: PrivateRedis | null = null;

  const call = (method: string, path: string, body?: unknown, token = SERVICE) =>
    fetch(`${server?.url}${path}`, {
      method,
      headers: { ...token, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const readiness = async () => {
    const response = await fetch(`${server?.url}/readyz`);
    return { status: response.status, body: (await response.json()) as { checks: Record<string, string> } };
  };

  beforeAll(async () => {
    if (!enabled) return;
    port = await freePort();
    server = await startServerProcess(
      {
        DATABASE_URL: databaseUrl(),
        REDIS_URL: `redis://127.0.0.1:${port}`,
        FAIL_MODE: mode,
        STORE_TIMEOUT_MS: '200',
        CONFIG_POLL_SECONDS: '0.5',
      },
      { waitFor: 'healthz' },
    );
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await redis?.stop();
  });

  run('serves by FAIL_MODE, then reconnects on its own and enforces limits', async () => {
    expect((await fetch(`${server?.url}/healthz`)).status).toBe(200);
    const down = await readiness();
    expect(down.status).toBe(503);
    expect(down.body.checks).toMatchObject({ redis: 'fail', postgres: 'ok', snapshot: 'ok' });
    expect((await fetch(`${server?.url}/metrics`)).status).toBe(200);

    const group = await call('POST', '/admin/model-groups', { name: 'opus', models: [MODEL] }, ADMIN);
    expect(group.status).toBe(201);
    const limit = { subjectType: 'user', subjectId: 'u-1', metric: 'requests', window: '1h', limit: 1 };
    expect((await call('PUT', '/admin/limits', limit, ADMIN)).status).toBe(201);

    const check = await call('POST', '/check', { userId: 'u-1', model: MODEL });
    if (mode === 'open') {
      expect(check.status).toBe(200);
      expect(await check.json()).toMatchObject({ allowed: true, failOpen: true });
    } else {
      expect(check.status).toBe(503);
      expect(check.headers.get('retry-after')).toBe('1');
      expect(await check.json()).toMatchObject({ code: 'store_unavailable' });
    }

    redis = await startPrivateRedis({ port });
    await until(async () => (await readiness()).status === 200, 10_000);
    // Then the first judged decision (a dry run, nothing recorded): it also rebuilds u-1's
    // cold buckets, which on a loaded host can outlast STORE_TIMEOUT_MS once and answer by
    // FAIL_MODE (seen in CI: a 503, and a fail-open 200).
    await until(async () => {
      const judged = await call('POST', '/check', { userId: 'u-1', model: MODEL });
      return judged.status === 200 && !((await judged.json()) as { failOpen: boolean }).failOpen;
    }, 10_000);
    const first = await call('POST', '/reserve', { userId: 'u-1', model: MODEL, requestId: 'r-1' });
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ allowed: true, failOpen: false });
    const second = await call('POST', '/reserve', { userId: 'u-1', model: MODEL, requestId: 'r-2' });
    expect(second.status).toBe(429);

    // The config channel is subscribed once Redis is up (polling covered the meantime).
    const probe = new Redis(redis.url);
    try {
      await until(async () => {
        const [, subscribers] = (await probe.call('PUBSUB', 'NUMSUB', 'qg:config')) as [string, number];
        return subscribers === 1;
      }, 10_000);
    } finally {
      probe.disconnect();
    }
    expect(server?.output()).not.toMatch(/failed to start/);
  });
});
