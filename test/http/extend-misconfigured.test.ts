import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { redisKey } from '../../src/store/redis/keys.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { describeWithServers, services, useRedisPrefix, useTestDatabase } from '../support/services.js';
import { configureLimits, decisionClient, MODEL, sample } from './fault-support.js';

/**
 * A misconfiguration met at /extend alone must reach /readyz and the metrics, as one met at
 * /check does (store-misconfigured.test.ts): every store call goes through one guard. This
 * app sees nothing else of the store, so only /extend can have told /readyz.
 */
describeWithServers('/extend meeting a key of the wrong type', () => {
  const databaseUrl = useTestDatabase();
  const prefix = useRedisPrefix();
  let t: TestApp;
  let admin: Redis;

  beforeAll(async () => {
    t = await startTestApp({
      databaseUrl: databaseUrl(),
      redisUrl: services.redisUrl ?? undefined,
      redisPrefix: prefix,
      env: { FAIL_MODE: 'open' },
    });
    await configureLimits(t, [{ metric: 'concurrency', limit: 2 }], 'u-ext');
    admin = new Redis(services.redisUrl ?? '');
  });
  afterAll(async () => {
    admin?.disconnect();
    await t?.close();
  });

  it('answers 503 store_misconfigured and /readyz learns of it', async () => {
    const api = decisionClient(t);
    const reserved = await api.post('/reserve', { userId: 'u-ext', model: MODEL, requestId: 'ext-1' });
    expect(reserved.statusCode, reserved.body).toBe(200);
    expect((await api.ready()).statusCode).toBe(200);
    const slots = redisKey(prefix, {
      kind: 'slots',
      subject: 'u-ext',
      bucketId: 'user:u-ext|*|concurrency|concurrent',
    });
    expect(await admin.exists(slots)).toBe(1);
    await admin.set(slots, 'not a zset');

    const extended = await api.post('/extend', { requestId: 'ext-1', ttlSeconds: 60 });

    expect(extended.statusCode, extended.body).toBe(503);
    expect(extended.json()).toMatchObject({ code: 'store_misconfigured' });
    const ready = await api.ready();
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ checks: { redis: 'misconfigured' } });
    expect(
      sample(await api.metrics(), 'quotagate_store_errors_total', 'store="redis",reason="misconfigured"'),
    ).toBeGreaterThan(0);
  });
});
