import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN, startTestApp, type TestApp } from '../support/app.js';
import { describeWithServers, services, useRedisPrefix, useTestDatabase } from '../support/services.js';

/** Waits until `visible()` holds, returning the milliseconds it took. */
async function timeUntil(visible: () => boolean, limitMs: number): Promise<number> {
  const started = performance.now();
  while (!visible()) {
    if (performance.now() - started > limitMs) throw new Error(`not visible within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return performance.now() - started;
}

describeWithServers('config propagation between two instances on one PostgreSQL + Redis', () => {
  const databaseUrl = useTestDatabase();
  const redisPrefix = useRedisPrefix();
  let writer: TestApp;
  let subscriber: TestApp;
  let poller: TestApp;

  beforeAll(async () => {
    const common = { redisUrl: services.redisUrl ?? undefined, redisPrefix };
    writer = await startTestApp({ ...common, databaseUrl: databaseUrl() });
    // A long poll interval: only pub/sub can make this one see a write within a second.
    subscriber = await startTestApp({
      ...common,
      databaseUrl: databaseUrl(),
      migrate: false,
      env: { CONFIG_POLL_SECONDS: '60' },
    });
    poller = await startTestApp({
      ...common,
      databaseUrl: databaseUrl(),
      migrate: false,
      configPubSub: false,
      env: { CONFIG_POLL_SECONDS: '0.5' },
    });
  });
  afterAll(async () => {
    await Promise.all([writer?.close(), subscriber?.close(), poller?.close()]);
  });

  async function createGroup(name: string, model: string) {
    const response = await writer.inject({
      method: 'POST',
      url: '/admin/model-groups',
      headers: ADMIN,
      payload: { name, models: [model] },
    });
    expect(response.statusCode).toBe(201);
    // Read-your-writes: the answering instance already serves it.
    expect(writer.app.configSync.current().modelGroupOf(model)?.name).toBe(name);
  }

  it('shows a write on one instance in the other within one second over pub/sub', async () => {
    await createGroup('opus', 'claude-opus-4-1');
    const ms = await timeUntil(
      () => subscriber.app.configSync.current().modelGroupOf('claude-opus-4-1') !== null,
      1_000,
    );
    console.log(`config propagation over pub/sub: ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(1_000);
  });

  it('shows it within the poll interval when pub/sub is off', async () => {
    await createGroup('sonnet', 'claude-sonnet-4');
    const ms = await timeUntil(
      () => poller.app.configSync.current().modelGroupOf('claude-sonnet-4') !== null,
      1_500,
    );
    console.log(`config propagation by polling (CONFIG_POLL_SECONDS=0.5): ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(500 + 250);
  });
});
