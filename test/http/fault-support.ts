import { expect } from 'vitest';
import { openPostgres } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { ADMIN, SERVICE, startTestApp, type TestApp, type TestAppOptions } from '../support/app.js';
import { services } from '../support/services.js';
import { TcpProxy } from '../support/tcp-proxy.js';
export { until } from '../support/until.js';

/** Shared by the fault-path tests: one model group, user limits, and a client at a fixed "now". */
export const MODEL = 'claude-opus-4-1';
export const NOW = Date.parse('2027-03-10T12:00:00Z');

export function decisionClient(t: TestApp, now = NOW) {
  const headers = { ...SERVICE, 'x-quota-test-now': String(now) };
  return {
    post: (url: string, payload: Record<string, unknown>) =>
      t.inject({ method: 'POST', url, headers, payload }),
    ready: () => t.inject({ method: 'GET', url: '/readyz' }),
    metrics: async () => (await t.inject({ method: 'GET', url: '/metrics' })).body,
  };
}

/** One model group and the given limits of `userId`, through the admin API. */
export async function configureLimits(t: TestApp, limits: Record<string, unknown>[], userId = 'u-1') {
  const group = await t.inject({
    method: 'POST',
    url: '/admin/model-groups',
    headers: ADMIN,
    payload: { name: 'opus', models: [MODEL] },
  });
  expect([201, 409]).toContain(group.statusCode);
  for (const limit of limits) {
    const put = await t.inject({
      method: 'PUT',
      url: '/admin/limits',
      headers: ADMIN,
      payload: { subjectType: 'user', subjectId: userId, modelGroupId: null, ...limit },
    });
    expect(put.statusCode).toBe(201);
  }
}

export async function migrated(url: string): Promise<void> {
  const direct = openPostgres(url, 1);
  await applyMigrations(direct);
  await direct.close();
}

/** The value of one sample line of the Prometheus text format, or null. */
export function sample(text: string, name: string, labels = ''): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** An app that reaches the test Redis through a proxy the test can cut or slow down. */
export async function startBehindRedisProxy(
  options: Omit<TestAppOptions, 'redisUrl'>,
): Promise<{ proxy: TcpProxy; t: TestApp }> {
  const redisUrl = services.redisUrl ?? '';
  const proxy = TcpProxy.forUrl(redisUrl);
  await proxy.start();
  return { proxy, t: await startTestApp({ ...options, redisUrl: proxy.urlFor(redisUrl) }) };
}
