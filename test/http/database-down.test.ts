import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPostgres } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { ADMIN, startTestApp, type TestApp } from '../support/app.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';
import { TcpProxy } from '../support/tcp-proxy.js';

describeWithPostgres('admin API while PostgreSQL is unreachable', () => {
  const databaseUrl = useTestDatabase();
  let proxy: TcpProxy;
  let t: TestApp;
  beforeAll(async () => {
    const direct = openPostgres(databaseUrl(), 1);
    await applyMigrations(direct);
    await direct.close();
    proxy = TcpProxy.forUrl(databaseUrl());
    await proxy.start();
    t = await startTestApp({ databaseUrl: proxy.urlFor(databaseUrl()), migrate: false });
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.stop();
  });

  it('answers admin writes 503 with Retry-After, reports not ready, and recovers', async () => {
    proxy.cut();
    const write = await t.inject({
      method: 'POST',
      url: '/admin/model-groups',
      headers: ADMIN,
      payload: { name: 'opus' },
    });
    expect(write.statusCode).toBe(503);
    expect(write.headers['retry-after']).toBe('1');
    expect(write.json()).toMatchObject({ code: 'database_unavailable', status: 503 });
    expect(write.body).not.toMatch(/ECONNRESET|Connection terminated|at .*\.js/);

    const ready = await t.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ ready: false, checks: { postgres: 'fail' } });

    proxy.restore();
    const retry = await t.inject({
      method: 'POST',
      url: '/admin/model-groups',
      headers: ADMIN,
      payload: { name: 'opus' },
    });
    expect(retry.statusCode).toBe(201);
  });
});
