import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { redisKey } from '../../src/store/redis/keys.js';
import { startTestApp, type TestApp } from '../support/app.js';
import {
  clusterToolsAvailable,
  startPrivateCluster,
  type PrivateCluster,
} from '../support/private-cluster.js';
import {
  describeWithPostgres,
  describeWithServers,
  services,
  useRedisPrefix,
  useTestDatabase,
} from '../support/services.js';
import { configureLimits, decisionClient, MODEL, sample } from './fault-support.js';

const USERS = Array.from({ length: 12 }, (_, i) => `u-${i}`);

/** A logger whose error lines the test reads. */
function capturingLogger() {
  const lines: { msg?: string; reply?: string }[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** Whether `node` serves the slot of the subject's keys (every key of a subject shares its tag). */
async function servedBy(node: Redis, prefix: string, subject: string): Promise<boolean> {
  const slot = Number(await node.call('CLUSTER', 'KEYSLOT', redisKey(prefix, { kind: 'warm', subject })));
  const ranges = (await node.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  const port = Number(node.options.port);
  return ranges.some(([from, to, [, owner]]) => slot >= from && slot <= to && owner === port);
}

describeWithPostgres('pointed at a Redis Cluster node as if it were a plain server', () => {
  const databaseUrl = useTestDatabase();
  const enabled = clusterToolsAvailable();
  const run = enabled ? it : it.skip;
  const { logger, lines } = capturingLogger();
  let cluster: PrivateCluster | null = null;
  let t: TestApp;

  beforeAll(async () => {
    if (!enabled) return;
    cluster = await startPrivateCluster({ masters: 3 });
    t = await startTestApp({
      databaseUrl: databaseUrl(),
      redisUrl: cluster.masters[0]?.url,
      env: { FAIL_MODE: 'open' },
      logger,
    });
    for (const user of USERS)
      await configureLimits(t, [{ metric: 'requests', window: '1h', limit: 5 }], user);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await cluster?.stop();
  });

  run('reports not ready, naming the redis check misconfigured', async () => {
    const ready = await decisionClient(t).ready();
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ ready: false, checks: { redis: 'misconfigured', postgres: 'ok' } });
  });

  run('answers a redirected subject 503 store_misconfigured and never fails open', async () => {
    const api = decisionClient(t);
    const node = new Redis(cluster?.masters[0]?.url ?? '');
    const redirected: string[] = [];
    for (const user of USERS) if (!(await servedBy(node, 'qg', user))) redirected.push(user);
    node.disconnect();
    expect(redirected.length).toBeGreaterThan(1);

    for (const user of redirected) {
      for (const [url, body] of [
        ['/check', { userId: user, model: MODEL }],
        ['/reserve', { userId: user, model: MODEL, requestId: `r-${user}` }],
      ] as const) {
        const response = await api.post(url, body);
        expect(response.statusCode, `${url} ${user}`).toBe(503);
        expect(response.headers['retry-after']).toBe('1');
        expect(response.json()).toMatchObject({ code: 'store_misconfigured', status: 503 });
        expect(response.body).not.toMatch(/MOVED|127\.0\.0\.1/);
      }
    }
    for (const user of USERS) {
      const response = await api.post('/check', { userId: user, model: MODEL });
      expect(response.json().failOpen, user).not.toBe(true);
    }
    const metrics = await api.metrics();
    expect(sample(metrics, 'quotagate_fail_open_total')).toBe(0);
    expect(
      sample(metrics, 'quotagate_store_errors_total', 'store="redis",reason="misconfigured"'),
    ).toBeGreaterThan(0);
  });

  run('logs the misconfiguration loudly, once per distinct cause', async () => {
    const logged = lines.filter((l) => l.msg?.includes('misconfigured'));
    expect(logged.length).toBeGreaterThanOrEqual(1);
    expect(logged.map((l) => l.reply).filter((r) => r === 'MOVED')).toHaveLength(1);
  });
});

describeWithServers('a key of the subject holding the wrong type', () => {
  const databaseUrl = useTestDatabase();
  const prefix = useRedisPrefix();
  const { logger, lines } = capturingLogger();
  let t: TestApp;
  let admin: Redis;

  beforeAll(async () => {
    t = await startTestApp({
      databaseUrl: databaseUrl(),
      redisUrl: services.redisUrl ?? undefined,
      redisPrefix: prefix,
      env: { FAIL_MODE: 'open' },
      logger,
    });
    await configureLimits(t, [{ metric: 'requests', window: '1h', limit: 5 }], 'u-wrong');
    await configureLimits(t, [{ metric: 'requests', window: '1h', limit: 5 }], 'u-fine');
    admin = new Redis(services.redisUrl ?? '');
    await admin.set(redisKey(prefix, { kind: 'warm', subject: 'u-wrong' }), 'not a hash');
  });
  afterAll(async () => {
    admin?.disconnect();
    await t?.close();
  });

  it('is a misconfiguration: 503 store_misconfigured, logged, /readyz not ready — not a fail-open', async () => {
    const api = decisionClient(t);
    for (const [url, body] of [
      ['/check', { userId: 'u-wrong', model: MODEL }],
      ['/reserve', { userId: 'u-wrong', model: MODEL, requestId: 'wt-1' }],
    ] as const) {
      const response = await api.post(url, body);
      expect(response.statusCode, url).toBe(503);
      expect(response.json()).toMatchObject({ code: 'store_misconfigured' });
    }
    const fine = await api.post('/check', { userId: 'u-fine', model: MODEL });
    expect(fine.statusCode).toBe(200);
    expect(fine.json()).toMatchObject({ failOpen: false });

    const ready = await api.ready();
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ checks: { redis: 'misconfigured' } });
    expect(lines.some((l) => l.reply === 'WRONGTYPE' && l.msg?.includes('misconfigured'))).toBe(true);
    expect(sample(await api.metrics(), 'quotagate_fail_open_total')).toBe(0);
  });
});
