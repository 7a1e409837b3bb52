import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, SERVICE, SERVICE_TOKEN } from '../support/app.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { services, useRedisPrefix, useTestDatabase } from '../support/services.js';
import {
  example,
  onPath,
  startCaddy,
  startNginx,
  startUpstream,
  type Proxy,
  type Upstream,
} from './support.js';

/**
 * SPEC §7.1 through real reverse proxies: Caddy forward_auth (AUTHZ_DENY_STATUS=429) and nginx
 * auth_request (AUTHZ_DENY_STATUS=403, turned into a 429 by error_page), each running the
 * config of examples/forward-auth/ in front of a recording upstream, against a quotagate
 * server process on the real PostgreSQL and Redis.
 */
const missing = ['caddy', 'nginx'].filter((binary) => !onPath(binary));
if (missing.length > 0) {
  const message = `${missing.join(' and ')} not installed: the forward-auth proxy tests that need them are SKIPPED`;
  if (process.env.QUOTAGATE_REQUIRE_SERVICES === '1') {
    throw new Error(`${message} — QUOTAGATE_REQUIRE_SERVICES=1 makes this a failure`);
  }
  console.warn(`\n${'!'.repeat(80)}\n!! ${message}\n${'!'.repeat(80)}\n`);
}
const withServers = Boolean(services.postgresUrl && services.redisUrl);
const describeFor = (binary: string) => (withServers && !missing.includes(binary) ? describe : describe.skip);

const databaseUrl = useTestDatabase();
const redisPrefix = useRedisPrefix();
const json = { 'content-type': 'application/json' };

async function quotagate(denyStatus: '429' | '403'): Promise<ServerProcess> {
  return startServerProcess({
    DATABASE_URL: databaseUrl(),
    REDIS_URL: services.redisUrl as string,
    REDIS_KEY_PREFIX: redisPrefix,
    AUTHZ_DENY_STATUS: denyStatus,
  });
}

/** A user allowed 2 requests an hour and $10 a day, through the admin API. */
async function limitedUser(server: ServerProcess, user: string): Promise<void> {
  for (const limit of [
    { metric: 'requests', window: '1h', limit: 2 },
    { metric: 'cost', window: 'daily', limit: 10 },
  ]) {
    const put = await fetch(`${server.url}/admin/limits`, {
      method: 'PUT',
      headers: { ...ADMIN, ...json },
      body: JSON.stringify({ subjectType: 'user', subjectId: user, modelGroupId: null, ...limit }),
    });
    expect(put.status, await put.text()).toBe(201);
  }
}

async function usedOf(server: ServerProcess, user: string): Promise<Record<string, number>> {
  const usage = await fetch(`${server.url}/usage?userId=${user}`, { headers: SERVICE });
  const body = (await usage.json()) as { buckets: { metric: string; used: number }[] };
  return Object.fromEntries(body.buckets.map((b) => [b.metric, b.used]));
}

async function settle(server: ServerProcess, requestId: string, costUsd: number) {
  const response = await fetch(`${server.url}/settle`, {
    method: 'POST',
    headers: { ...SERVICE, ...json },
    body: JSON.stringify({ requestId, costUsd }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

interface Rig {
  server: ServerProcess;
  proxy: Proxy;
  upstream: Upstream;
}

/** quotagate, the upstream and the proxy, started before and stopped (by PID) after the block. */
function useRig(denyStatus: '429' | '403', start: typeof startCaddy): () => Rig {
  let rig: Partial<Rig> = {};
  beforeAll(async () => {
    const [server, upstream] = await Promise.all([quotagate(denyStatus), startUpstream()]);
    rig = { server, upstream };
    const quotagateAddress = new URL(server.url).host;
    rig.proxy = await start({
      quotagate: quotagateAddress,
      app: upstream.address,
      serviceToken: SERVICE_TOKEN,
    });
  }, 60_000);
  afterAll(async () => {
    await rig.proxy?.stop();
    await rig.upstream?.close();
    await rig.server?.stop();
  });
  return () => rig as Rig;
}

/** What both proxies must do; `refusal` checks what the client got for the request past the cap. */
function forwardAuthBehaviour(rig: () => Rig, name: string, refusal: (response: Response) => Promise<void>) {
  const ask = (user: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
    fetch(`${rig().proxy.url}/v1/chat/completions`, {
      ...init,
      headers: { 'x-user': user, ...init.headers },
    });

  it('admits under the cap: the upstream gets the request, its body and X-Quota-Request-Id', async () => {
    const { server, upstream } = rig();
    const user = `${name}-admits`;
    await limitedUser(server, user);
    const response = await ask(user, { method: 'POST', headers: json, body: '{"prompt":"hello"}' });
    expect(response.status, rig().proxy.output()).toBe(200);
    const answer = (await response.json()) as { upstream: boolean; quotaRequestId: string | null };
    const seen = upstream.seen.filter((s) => s.headers['x-user'] === user);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      method: 'POST',
      url: '/v1/chat/completions',
      body: '{"prompt":"hello"}',
    });
    expect(answer.quotaRequestId).toMatch(/^[0-9a-f-]{16,}$/);
    expect(seen[0]?.headers['x-quota-request-id']).toBe(answer.quotaRequestId);
    // The token is the proxy's, for quotagate only: it never travels on to the app.
    expect(seen[0]?.headers['x-quota-token']).toBeUndefined();
  });

  it('past the requests cap the client is refused with 429 and Retry-After, and the upstream never sees it', async () => {
    const { server, upstream } = rig();
    const user = `${name}-refused`;
    await limitedUser(server, user);
    expect((await ask(user)).status).toBe(200);
    expect((await ask(user)).status).toBe(200);
    const refused = await ask(user);
    expect(refused.status, rig().proxy.output()).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(3500);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(refused.headers.get('ratelimit')).toBe(`"user:${user}|*|requests|1h";r=0;t=${retryAfter}`);
    expect(refused.headers.get('ratelimit-policy')).toBe(`"user:${user}|*|requests|1h";q=2;w=3600`);
    await refusal(refused);
    expect(upstream.seen.filter((s) => s.headers['x-user'] === user)).toHaveLength(2);
  });

  it('a /settle of the id the upstream saw charges its cost and counts no second request', async () => {
    const { server, upstream } = rig();
    const user = `${name}-settled`;
    await limitedUser(server, user);
    expect((await ask(user)).status).toBe(200);
    const requestId = String(
      upstream.seen.find((s) => s.headers['x-user'] === user)?.headers['x-quota-request-id'],
    );
    const settled = await settle(server, requestId, 0.05);
    expect(settled).toMatchObject({ status: 200, body: { requestId, duplicate: false, costUsd: 0.05 } });
    expect(await usedOf(server, user)).toEqual({ requests: 1, cost: 0.05 });
  });

  it('a client cannot pick its own quota user, request id or token', async () => {
    const { server, upstream } = rig();
    const user = `${name}-honest`;
    const victim = `${name}-victim`;
    await limitedUser(server, user);
    await limitedUser(server, victim);
    const forged = {
      'x-quota-user': victim,
      'x-request-id': 'forged-id',
      'x-quota-request-id': 'forged-id',
      'x-quota-token': 'forged-token',
      'x-quota-estimated-cost': '1000',
    };
    const response = await ask(user, { headers: forged });
    expect(response.status, rig().proxy.output()).toBe(200);
    const seen = upstream.seen.filter((s) => s.headers['x-user'] === user).at(-1);
    expect(seen?.headers['x-quota-request-id']).not.toBe('forged-id');
    expect(await usedOf(server, user)).toMatchObject({ requests: 1 });
    expect(await usedOf(server, victim)).toMatchObject({ requests: 0 });
  });

  it('a request without the user header is refused before the upstream (400 from quotagate)', async () => {
    const { upstream } = rig();
    const before = upstream.seen.length;
    const response = await fetch(`${rig().proxy.url}/v1/models`);
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(upstream.seen.length).toBe(before);
  });
}

describeFor('caddy')('Caddy forward_auth in front of an app (examples/forward-auth/Caddyfile)', () => {
  const rig = useRig('429', startCaddy);
  forwardAuthBehaviour(rig, 'caddy', async (refused) => {
    // Caddy hands quotagate's refusal to the client as it is: the problem document too.
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(await refused.json()).toMatchObject({ status: 429, code: 'rate_limited' });
  });
});

describeFor('nginx')('nginx auth_request in front of an app (examples/forward-auth/nginx.conf)', () => {
  const rig = useRig('403', startNginx);
  forwardAuthBehaviour(rig, 'nginx', async (refused) => {
    // auth_request keeps no body: the @quota_refused location writes its own document.
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(await refused.json()).toMatchObject({ status: 429, code: 'rate_limited' });
  });
});

describe('README "Reverse proxies (forward auth)"', () => {
  it('shows the tested Caddy and nginx configs verbatim', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const fence = '```';
    expect(readme).toContain(`${fence}caddyfile\n${example('Caddyfile')}${fence}`);
    expect(readme).toContain(`${fence}nginx\n${example('nginx.conf')}${fence}`);
  });
});
