import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { services, useRedisPrefix, useTestDatabase } from '../support/services.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { configureLimits, decisionClient, migrated, MODEL, sample } from './fault-support.js';

/** u-cold has limits but no decision yet: its buckets must be rebuilt from PostgreSQL first. */
describe.each(['open', 'closed'] as const)(
  'a cold subject while PostgreSQL is down, FAIL_MODE=%s',
  (mode) => {
    const databaseUrl = useTestDatabase();
    const prefix = useRedisPrefix();
    const run = services.postgresUrl && services.redisUrl ? it : it.skip;
    let proxy: TcpProxy;
    let t: TestApp;

    beforeAll(async () => {
      if (!services.postgresUrl || !services.redisUrl) return;
      await migrated(databaseUrl());
      proxy = TcpProxy.forUrl(databaseUrl());
      await proxy.start();
      t = await startTestApp({
        databaseUrl: proxy.urlFor(databaseUrl()),
        redisUrl: services.redisUrl,
        redisPrefix: prefix,
        migrate: false,
        env: { FAIL_MODE: mode },
      });
      await configureLimits(t, [{ metric: 'requests', window: '1h', limit: 5 }], 'u-warm');
      await configureLimits(t, [{ metric: 'requests', window: '1h', limit: 5 }], 'u-cold');
    });
    afterAll(async () => {
      proxy?.restore();
      await t?.close();
      await proxy?.stop();
    });

    run(
      mode === 'open'
        ? 'admits with failOpen and counts the fail-open, while warm subjects are still enforced'
        : 'answers 503 store_unavailable with Retry-After, while warm subjects are still enforced',
      async () => {
        const api = decisionClient(t);
        expect((await api.post('/check', { userId: 'u-warm', model: MODEL })).statusCode).toBe(200);
        proxy.cut();

        const warm = await api.post('/check', { userId: 'u-warm', model: MODEL });
        expect(warm.statusCode).toBe(200);
        expect(warm.json()).toMatchObject({ failOpen: false });

        for (const [url, body] of [
          ['/check', { userId: 'u-cold', model: MODEL }],
          ['/reserve', { userId: 'u-cold', model: MODEL, requestId: 'cold-1' }],
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
        const metrics = await api.metrics();
        expect(sample(metrics, 'quotagate_fail_open_total')).toBe(mode === 'open' ? 2 : 0);
        expect(sample(metrics, 'quotagate_store_errors_total', 'store="postgres",reason="unavailable"')).toBe(
          2,
        );

        proxy.restore();
        const rebuilt = await api.post('/check', { userId: 'u-cold', model: MODEL });
        expect(rebuilt.statusCode).toBe(200);
        expect(rebuilt.json()).toMatchObject({ failOpen: false });
      },
    );
  },
);
