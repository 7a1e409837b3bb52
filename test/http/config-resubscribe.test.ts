import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN, startTestApp, type TestApp } from '../support/app.js';
import { describeWithServers, services, useRedisPrefix, useTestDatabase } from '../support/services.js';
import type { TcpProxy } from '../support/tcp-proxy.js';
import { configureLimits, decisionClient, MODEL, until, startBehindRedisProxy } from './fault-support.js';

/** Redis' reply to SUBSCRIBE: `*3 $9 subscribe <channel> <count>`. */
const SUBSCRIBE_REPLY = /^\*3\r\n\$9\r\nsubscribe\r\n/;

describeWithServers('the config channel after a reconnect to a slow Redis', () => {
  const databaseUrl = useTestDatabase();
  const prefix = useRedisPrefix();
  const rejections: unknown[] = [];
  const collect = (reason: unknown) => void rejections.push(reason);
  let proxy: TcpProxy;
  let t: TestApp;
  let writer: TestApp;

  beforeAll(async () => {
    process.on('unhandledRejection', collect);
    ({ proxy, t } = await startBehindRedisProxy({
      databaseUrl: databaseUrl(),
      redisPrefix: prefix,
      // A long poll interval: only the config channel can show another instance's write soon.
      env: { STORE_TIMEOUT_MS: '100', CONFIG_POLL_SECONDS: '60' },
    }));
    writer = await startTestApp({
      databaseUrl: databaseUrl(),
      redisUrl: services.redisUrl ?? undefined,
      redisPrefix: prefix,
      migrate: false,
    });
    await configureLimits(t, [{ metric: 'requests', window: 'daily', limit: 100 }]);
  });
  afterAll(async () => {
    process.off('unhandledRejection', collect);
    await Promise.all([t?.close(), writer?.close()]);
    await proxy?.stop();
  });

  it('waits for the resubscribe past STORE_TIMEOUT_MS instead of failing it unhandled (which kills a Node process)', async () => {
    const api = decisionClient(t);
    proxy.slowReplies(SUBSCRIBE_REPLY, 400);
    proxy.cut();
    proxy.restore();
    // ioredis resubscribes the config channel as soon as the reconnected subscriber is ready.
    await until(async () => (await api.post('/check', { userId: 'u-1', model: MODEL })).statusCode === 200);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(rejections).toEqual([]);
    expect((await api.post('/check', { userId: 'u-1', model: MODEL })).statusCode).toBe(200);

    // The resubscribe completed: another instance's write arrives over the channel.
    const created = await writer.inject({
      method: 'POST',
      url: '/admin/model-groups',
      headers: ADMIN,
      payload: { name: 'sonnet', models: ['claude-sonnet-4-5'] },
    });
    expect(created.statusCode).toBe(201);
    await until(async () => t.app.configSync.current().modelGroupOf('claude-sonnet-4-5') !== null, 1_000);
  });
});
