import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, SERVICE_TOKEN, startTestApp, type TestApp } from '../../support/app.js';
import { describeWithServers, services, useRedisPrefix, useTestDatabase } from '../../support/services.js';
import type { TcpProxy } from '../../support/tcp-proxy.js';
import { sample, until, startBehindRedisProxy } from '../fault-support.js';
import {
  SECOND,
  T0,
  expectProblem,
  gate,
  keyOf,
  uid,
  useEmbeddedGate,
  type Gate,
} from '../decisions/support.js';
import { authz, usageBucket } from './support.js';

describeWithServers('/authz requests, tokens and AUTHZ_DENY_STATUS', () => {
  const databaseUrl = useTestDatabase();
  const prefix = useRedisPrefix();
  let g429: Gate;
  let g403: Gate;
  let g401: Gate;
  beforeAll(async () => {
    const common = { databaseUrl: databaseUrl(), redisUrl: services.redisUrl as string, redisPrefix: prefix };
    g429 = gate(await startTestApp(common), prefix);
    g403 = gate(await startTestApp({ ...common, migrate: false, env: { AUTHZ_DENY_STATUS: '403' } }), prefix);
    g401 = gate(await startTestApp({ ...common, migrate: false, env: { AUTHZ_DENY_STATUS: '401' } }), prefix);
  });
  afterAll(async () => {
    await g429?.t.close();
    await g403?.t.close();
    await g401?.t.close();
  });

  describe('bad requests', () => {
    it('a missing or empty X-Quota-User is a 400 naming the header', async () => {
      expectProblem(await authz(g429, {}, T0), 400, 'validation_failed', 'x-quota-user');
      expectProblem(await authz(g429, { 'x-quota-user': ' ' }, T0), 400, 'validation_failed', 'x-quota-user');
    });

    it('a malformed X-Quota-Estimated-Cost is a 400 naming the header', async () => {
      for (const cost of ['abc', '-1', '-0.0000001', 'NaN']) {
        const a = await authz(g429, { 'x-quota-user': uid('u'), 'x-quota-estimated-cost': cost }, T0);
        expectProblem(a, 400, 'validation_failed', 'x-quota-estimated-cost');
      }
    });

    it('answers every method and every path under /authz/, whatever body the proxy passes on', async () => {
      const user = uid('u');
      const asks = [
        { method: 'GET', url: '/authz/v1/chat/completions?stream=true' },
        { method: 'POST', url: '/authz', payload: '{"not":"read"' },
        { method: 'PUT', url: '/authz/', payload: 'plain text' },
        { method: 'DELETE', url: '/authz' },
        { method: 'HEAD', url: '/authz/x' },
        { method: 'OPTIONS', url: '/authz', payload: 'x' },
        { method: 'PATCH', url: '/authz', payload: '' },
      ] as const;
      for (const [i, ask] of asks.entries()) {
        const contentType = ['application/json', '', 'nonsense', 'text/plain'][i % 4] as string;
        const headers = { 'x-quota-user': user, 'content-type': contentType };
        const a = await authz(g429, headers, T0, ask);
        expect(a.status, `${ask.method} ${ask.url}: ${a.raw.body}`).toBe(200);
      }
    });
  });

  describe('tokens', () => {
    it('no token, an unknown one, or one in Authorization is a 401 with WWW-Authenticate', async () => {
      const asks: Record<string, string>[] = [
        { 'x-quota-token': '' },
        { 'x-quota-token': 'not-a-token-at-all' },
        { 'x-quota-token': '', authorization: `Bearer ${SERVICE_TOKEN}` },
      ];
      for (const headers of asks) {
        const a = await authz(g429, { 'x-quota-user': uid('u'), ...headers }, T0);
        expectProblem(a, 401, 'unauthorized');
        expect(a.headers['www-authenticate']).toMatch(/^Bearer/);
        expect(a.body.detail).toContain('X-Quota-Token');
      }
    });

    it('an admin token passes', async () => {
      const a = await authz(g429, { 'x-quota-user': uid('u'), 'x-quota-token': ADMIN_TOKEN }, T0);
      expect(a.status).toBe(200);
    });
  });

  describe('AUTHZ_DENY_STATUS=403', () => {
    it('refuses with 403, the problem document, Retry-After and the RateLimit headers; counted as refused', async () => {
      const user = uid('u');
      await g403.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: '1h', limit: 1 });
      expect((await authz(g403, { 'x-quota-user': user }, T0)).status).toBe(200);
      const refused = await authz(g403, { 'x-quota-user': user }, T0 + 30 * 60 * SECOND);
      expectProblem(refused, 403, 'rate_limited');
      expect(refused.headers['retry-after']).toBe('1800');
      expect(refused.headers['ratelimit']).toBe(
        `"${keyOf('user', user, null, 'requests', '1h')}";r=0;t=1800`,
      );
      const metrics = (await g403.t.inject({ method: 'GET', url: '/metrics' })).body;
      expect(sample(metrics, 'quotagate_decisions_total', 'endpoint="/authz",outcome="refused"')).toBe(1);
      expect(sample(metrics, 'quotagate_decisions_total', 'endpoint="/authz",outcome="allowed"')).toBe(1);
    });
  });

  describe('AUTHZ_DENY_STATUS=401', () => {
    it('refuses with 401 and WWW-Authenticate, as every 401 must carry', async () => {
      const user = uid('u');
      await g401.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: '1h', limit: 0 });
      const refused = await authz(g401, { 'x-quota-user': user }, T0);
      expectProblem(refused, 401, 'rate_limited');
      expect(refused.headers['www-authenticate']).toBe('Bearer');
    });
  });
});

describe.each(['open', 'closed'] as const)('/authz while Redis is unreachable, FAIL_MODE=%s', (mode) => {
  const databaseUrl = useTestDatabase();
  const prefix = useRedisPrefix();
  const run = services.postgresUrl && services.redisUrl ? it : it.skip;
  let proxy: TcpProxy;
  let t: TestApp;
  beforeAll(async () => {
    if (!services.redisUrl || !services.postgresUrl) return;
    ({ proxy, t } = await startBehindRedisProxy({
      databaseUrl: databaseUrl(),
      redisPrefix: prefix,
      env: { FAIL_MODE: mode, STORE_TIMEOUT_MS: '100' },
    }));
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.stop();
  });

  run(
    mode === 'open' ? 'admits with X-Quota-Fail-Open: true' : 'answers 503 with Retry-After: 1',
    async () => {
      const g = gate(t);
      expect((await authz(g, { 'x-quota-user': 'u-1' }, T0)).status).toBe(200);
      proxy.cut();
      const a = await authz(g, { 'x-quota-user': 'u-1', 'x-request-id': 'down-1' }, T0);
      if (mode === 'open') {
        expect(a.status).toBe(200);
        expect(a.headers['x-quota-fail-open']).toBe('true');
        expect(a.headers['x-quota-request-id']).toBe('down-1');
      } else {
        expectProblem(a, 503, 'store_unavailable');
        expect(a.headers['retry-after']).toBe('1');
      }
      proxy.restore();
      await until(
        async () =>
          (await authz(g, { 'x-quota-user': 'u-1' }, T0)).headers['x-quota-fail-open'] === undefined,
      );
    },
  );
});

describe('/authz in embedded mode (in-process counter store)', () => {
  const gateOf = useEmbeddedGate();

  it('counts the request, holds nothing, and a settle of it counts no second request', async () => {
    const g = gateOf();
    const user = uid('u');
    await g.limit({ subjectType: 'user', subjectId: user, metric: 'requests', window: 'daily', limit: 5 });
    await g.limit({ subjectType: 'user', subjectId: user, metric: 'cost', window: 'daily', limit: 1 });
    const a = await authz(g, { 'x-quota-user': user, 'x-quota-estimated-cost': '0.9' }, T0);
    expect(a.status).toBe(200);
    expect((await authz(g, { 'x-quota-user': user, 'x-quota-estimated-cost': '0.9' }, T0)).status).toBe(200);
    const cost = keyOf('user', user, null, 'cost', 'daily');
    expect(await usageBucket(g, { userId: user }, cost, T0)).toMatchObject({ used: 0, held: 0 });
    const settled = await g.settle({ requestId: String(a.headers['x-quota-request-id']), costUsd: 0.4 }, T0);
    expect(settled.status, JSON.stringify(settled.body)).toBe(200);
    const requests = keyOf('user', user, null, 'requests', 'daily');
    expect(await usageBucket(g, { userId: user }, requests, T0)).toMatchObject({ used: 2 });
    expect(await usageBucket(g, { userId: user }, cost, T0)).toMatchObject({ used: 0.4 });
  });
});
