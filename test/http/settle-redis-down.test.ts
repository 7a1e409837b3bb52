import { afterAll, beforeAll, expect, it } from 'vitest';
import { usageLedger } from '../../src/db/schema.js';
import type { TestApp } from '../support/app.js';
import { describeWithServers, useRedisPrefix, useTestDatabase } from '../support/services.js';
import type { TcpProxy } from '../support/tcp-proxy.js';
import { configureLimits, decisionClient, MODEL, until, startBehindRedisProxy } from './fault-support.js';

describeWithServers('a settle carrying only requestId while Redis is unreachable', () => {
  const databaseUrl = useTestDatabase();
  const prefix = useRedisPrefix();
  let proxy: TcpProxy;
  let t: TestApp;

  beforeAll(async () => {
    ({ proxy, t } = await startBehindRedisProxy({
      databaseUrl: databaseUrl(),
      redisPrefix: prefix,
      env: { STORE_TIMEOUT_MS: '100' },
    }));
    await configureLimits(t, [{ metric: 'cost', window: 'daily', limit: 10 }]);
  });
  afterAll(async () => {
    proxy?.restore();
    await t?.close();
    await proxy?.stop();
  });

  it('answers 503 store_unavailable with Retry-After (never a 400 the gateway would not retry), recording nothing', async () => {
    const api = decisionClient(t);
    proxy.cut();
    const settle = await api.post('/settle', { requestId: 'r-unknown', costUsd: 0.5 });
    expect(settle.statusCode).toBe(503);
    expect(settle.headers['retry-after']).toBe('1');
    expect(settle.json()).toMatchObject({ code: 'store_unavailable', status: 503 });
    expect(await t.database.db.select().from(usageLedger)).toEqual([]);

    proxy.restore();
    // Once Redis answers it knows there is no reservation: then the missing fields are the caller's mistake.
    let answered = settle;
    await until(
      async () =>
        (answered = await api.post('/settle', { requestId: 'r-unknown', costUsd: 0.5 })).statusCode !== 503,
    );
    expect(answered.statusCode).toBe(400);
    expect(answered.json()).toMatchObject({ code: 'validation_failed', errors: [{ field: 'userId' }] });
  });

  it('settles a reservation once Redis is back, after the 503s', async () => {
    const api = decisionClient(t);
    const reserved = await api.post('/reserve', {
      userId: 'u-1',
      model: MODEL,
      requestId: 'r-1',
      estimatedCostUsd: 1,
    });
    expect(reserved.statusCode).toBe(200);
    proxy.cut();
    // Answered from the reservation's durable copy, or 503 until Redis is back: never a 400.
    expect([200, 503]).toContain((await api.post('/settle', { requestId: 'r-1', costUsd: 0.5 })).statusCode);
    proxy.restore();
    let retried = reserved;
    await until(
      async () =>
        (retried = await api.post('/settle', { requestId: 'r-1', costUsd: 0.5 })).statusCode === 200,
    );
    expect(retried.json()).toMatchObject({ requestId: 'r-1', costUsd: 0.5 });
  });

  it('still answers a duplicate from the ledger when the settle was already recorded', async () => {
    const api = decisionClient(t);
    const first = await api.post('/settle', { requestId: 'd-1', costUsd: 0.25, userId: 'u-1', model: MODEL });
    expect(first.statusCode).toBe(200);
    proxy.cut();

    const again = await api.post('/settle', { requestId: 'd-1', costUsd: 0.25 });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ requestId: 'd-1', duplicate: true, costUsd: 0.25 });
    proxy.restore();
  });

  it('with userId and model settles directly (the ledger is the truth; the subject is marked dirty)', async () => {
    const api = decisionClient(t);
    proxy.cut();
    const direct = await api.post('/settle', { requestId: 'd-2', costUsd: 0.1, userId: 'u-1', model: MODEL });
    expect(direct.statusCode).toBe(200);
    expect(direct.json()).toMatchObject({ duplicate: false, costUsd: 0.1 });
    proxy.restore();
  });
});
