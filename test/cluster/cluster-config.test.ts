import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN, startTestApp, type TestApp } from '../support/app.js';
import {
  clusterToolsAvailable,
  startPrivateCluster,
  type PrivateCluster,
} from '../support/private-cluster.js';
import { describeWithServers, useTestDatabase } from '../support/services.js';
import { until } from '../support/until.js';

const enabled = clusterToolsAvailable();
if (!enabled) console.warn('redis-server/redis-cli missing: config pub/sub on a Redis Cluster SKIPPED');

describeWithServers('config invalidation across a Redis Cluster (REDIS_CLUSTER=true)', () => {
  const databaseUrl = useTestDatabase();
  let cluster: PrivateCluster | null = null;
  let writer: TestApp;
  let subscriber: TestApp;

  beforeAll(async () => {
    if (!enabled) return;
    cluster = await startPrivateCluster({ masters: 3 });
    const common = { redisUrl: cluster.seeds, redisPrefix: 'qgcfg', databaseUrl: databaseUrl() };
    writer = await startTestApp({ ...common, env: { REDIS_CLUSTER: 'true' } });
    // A poll an hour apart: only the cluster's pub/sub can bring the write over.
    subscriber = await startTestApp({
      ...common,
      migrate: false,
      env: { REDIS_CLUSTER: 'true', CONFIG_POLL_SECONDS: '3600' },
    });
  }, 120_000);
  afterAll(async () => {
    await Promise.all([writer?.close(), subscriber?.close()]);
    await cluster?.stop();
  });

  it.skipIf(!enabled)('shows an admin write on instance A in instance B over pub/sub', async () => {
    const model = 'claude-opus-4-1';
    const response = await writer.inject({
      method: 'POST',
      url: '/admin/model-groups',
      headers: ADMIN,
      payload: { name: 'opus', models: [model] },
    });
    expect(response.statusCode).toBe(201);
    await until(async () => subscriber.app.configSync.current().modelGroupOf(model)?.name === 'opus', 5_000);
  });
});
