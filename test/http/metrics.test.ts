import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, SERVICE, startTestApp, type TestApp } from '../support/app.js';
import { describeWithServers, useRedisPrefix, useTestDatabase } from '../support/services.js';
import type { TcpProxy } from '../support/tcp-proxy.js';
import { startBehindRedisProxy } from './fault-support.js';

const MODEL = 'claude-opus-4-1';

/** The value of one sample line of the Prometheus text format, or null. */
function sample(text: string, name: string, labels = ''): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describeWithServers('metrics an operator alerts on', () => {
  const databaseUrl = useTestDatabase();
  const prefix = useRedisPrefix();
  let proxy: TcpProxy;
  let t: TestApp;

  beforeAll(async () => {
    ({ proxy, t } = await startBehindRedisProxy({
      databaseUrl: databaseUrl(),
      redisPrefix: prefix,
      // A cut is a reset, not a black hole: a generous timeout only keeps a loaded machine from failing open.
      env: { STORE_TIMEOUT_MS: '1000' },
    }));
    await t.inject({
      method: 'POST',
      url: '/admin/model-groups',
      headers: ADMIN,
      payload: { name: 'opus', models: [MODEL] },
    });
    const limit = { subjectType: 'user', subjectId: 'u-1', metric: 'requests', window: '1h', limit: 2 };
    expect(
      (await t.inject({ method: 'PUT', url: '/admin/limits', headers: ADMIN, payload: limit })).statusCode,
    ).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.stop();
  });

  const post = (url: string, payload: Record<string, unknown>) =>
    t.inject({ method: 'POST', url, headers: SERVICE, payload });

  it('counts decisions by outcome, settles, rebuilds, holds, fail-opens and config freshness', async () => {
    expect((await post('/check', { userId: 'u-1', model: MODEL })).statusCode).toBe(200);
    expect((await post('/reserve', { userId: 'u-1', model: MODEL, requestId: 'a' })).statusCode).toBe(200);
    expect((await post('/reserve', { userId: 'u-1', model: MODEL, requestId: 'b' })).statusCode).toBe(200);
    expect((await post('/reserve', { userId: 'u-1', model: MODEL, requestId: 'c' })).statusCode).toBe(429);
    expect((await post('/settle', { requestId: 'a', costUsd: 0.01 })).statusCode).toBe(200);
    // The open-holds gauge is written after the answer; one more round trip lets it land.
    await t.inject({ method: 'GET', url: `/usage?userId=u-1`, headers: SERVICE });
    proxy.cut();
    expect((await post('/check', { userId: 'u-1', model: MODEL })).json()).toMatchObject({ failOpen: true });
    proxy.restore();
    // Recovered once a check is judged again (refused: the cap of 2 is used).
    const deadline = Date.now() + 5_000;
    while ((await post('/check', { userId: 'u-1', model: MODEL })).statusCode !== 429) {
      if (Date.now() > deadline) throw new Error('Redis did not come back');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }

    const text = (await t.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(text, 'quotagate_decisions_total', 'endpoint="/check",outcome="allowed"')).toBe(1);
    expect(sample(text, 'quotagate_decisions_total', 'endpoint="/check",outcome="refused"')).toBe(1);
    expect(sample(text, 'quotagate_decisions_total', 'endpoint="/reserve",outcome="allowed"')).toBe(2);
    expect(sample(text, 'quotagate_decisions_total', 'endpoint="/reserve",outcome="refused"')).toBe(1);
    expect(
      sample(text, 'quotagate_decisions_total', 'endpoint="/check",outcome="fail_open"'),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'quotagate_decisions_total', 'endpoint="/settle",outcome="allowed"')).toBe(1);
    expect(sample(text, 'quotagate_fail_open_total')).toBe(
      sample(text, 'quotagate_decisions_total', 'endpoint="/check",outcome="fail_open"'),
    );
    expect(
      sample(text, 'quotagate_store_errors_total', 'store="redis",reason="unavailable"'),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'quotagate_decision_duration_seconds_count', 'endpoint="/reserve"')).toBe(3);
    expect(sample(text, 'quotagate_settle_batch_size_count')).toBe(1);
    expect(sample(text, 'quotagate_settle_commit_seconds_count')).toBe(1);
    // u-1's first decision met a user of no history: new, not a rebuild.
    expect(sample(text, 'quotagate_new_subjects_total')).toBe(1);
    expect(sample(text, 'quotagate_cold_rebuilds_total')).toBe(0);
    expect(sample(text, 'quotagate_open_holds')).toBe(1);
    expect(sample(text, 'quotagate_config_version')).toBe(t.app.configSync.current().version);
    expect(sample(text, 'quotagate_config_snapshot_age_seconds')).not.toBeNull();
  });

  it('counts a settle that cannot reach Redis as error: an operator must act', async () => {
    proxy.cut();
    try {
      const response = await post('/settle', { requestId: 'unknown-while-down', costUsd: 0.01 });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({ code: 'store_unavailable' });
    } finally {
      proxy.restore();
    }
    const text = (await t.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(text, 'quotagate_decisions_total', 'endpoint="/settle",outcome="error"')).toBe(1);
    expect(sample(text, 'quotagate_decisions_total', 'endpoint="/settle",outcome="rejected"')).toBeNull();
  });
});

describe("decision metrics: a caller's mistake is rejected, never an error", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { BODY_LIMIT_BYTES: '1024' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  const settle = (payload: string | Record<string, unknown>, headers: Record<string, string> = SERVICE) =>
    t.inject({
      method: 'POST',
      url: '/settle',
      headers: { 'content-type': 'application/json', ...headers },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });

  it('counts ten bad settles (400, 401, 409, 413, 415) as rejected and none as error', async () => {
    const direct = { requestId: 'r-1', costUsd: 0.01, userId: 'u-1', model: MODEL };
    expect((await settle(direct)).statusCode).toBe(200);
    const statuses = [
      (await settle({})).statusCode,
      (await settle({ requestId: 'r-2' })).statusCode,
      (await settle({ requestId: 'r-2', costUsd: -1 })).statusCode,
      (await settle({ requestId: 'never-reserved', costUsd: 0.01 })).statusCode,
      (await settle('{"requestId":')).statusCode,
      (await settle(direct, {})).statusCode,
      (await settle(direct, { authorization: 'Bearer not-a-configured-token' })).statusCode,
      (await settle({ ...direct, costUsd: 0.02 })).statusCode,
      (await settle({ ...direct, metadata: { pad: 'x'.repeat(2048) } })).statusCode,
      (await settle('requestId=r-3', { ...SERVICE, 'content-type': 'application/x-www-form-urlencoded' }))
        .statusCode,
    ];
    expect(statuses).toEqual([400, 400, 400, 400, 400, 401, 401, 409, 413, 415]);

    const text = (await t.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(text, 'quotagate_decisions_total', 'endpoint="/settle",outcome="rejected"')).toBe(10);
    expect(sample(text, 'quotagate_decisions_total', 'endpoint="/settle",outcome="allowed"')).toBe(1);
    expect(sample(text, 'quotagate_decisions_total', 'endpoint="/settle",outcome="error"') ?? 0).toBe(0);
  });

  it('counts a release of an unknown request (404) as rejected', async () => {
    const response = await t.inject({
      method: 'POST',
      url: '/release',
      headers: SERVICE,
      payload: { requestId: 'no-such-request' },
    });
    expect(response.statusCode).toBe(404);
    const text = (await t.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(text, 'quotagate_decisions_total', 'endpoint="/release",outcome="rejected"')).toBe(1);
    expect(sample(text, 'quotagate_decisions_total', 'endpoint="/release",outcome="error"') ?? 0).toBe(0);
  });
});
