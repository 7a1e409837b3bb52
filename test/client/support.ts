import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, expect } from 'vitest';
import { QuotaClient, type QuotaClientOptions } from '../../src/client/index.js';
import { systemClock } from '../../src/clock.js';
import { ADMIN, SERVICE_TOKEN, startTestApp, type TestApp } from '../support/app.js';
import { services, useRedisPrefix, useTestDatabase } from '../support/services.js';

let seq = 0;
/** A fresh id for a user, model or request of this file. */
export const uid = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++seq}`;

export interface Quotagate {
  t: TestApp;
  /** The listening server's base URL (loopback). */
  url: string;
  /** A client of it with the service token; fast timeouts and backoff for tests. */
  client(options?: Partial<QuotaClientOptions>): QuotaClient;
  /** An admin call that must answer 2xx; returns its body. */
  admin(method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, body?: object): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** A model group holding `models` and user limits on it: returns the group id. */
  userLimits(user: string, models: string[], limits: object[]): Promise<number>;
}

/**
 * quotagate over the real PostgreSQL and Redis, listening on a loopback port so the client
 * speaks real HTTP to it; on the system clock, so holds lapse in real time.
 */
export function useQuotagate(): () => Quotagate {
  const databaseUrl = useTestDatabase();
  const redisPrefix = useRedisPrefix();
  let q: Quotagate | undefined;
  beforeAll(async () => {
    if (!services.redisUrl) return;
    const t = await startTestApp({
      databaseUrl: databaseUrl(),
      redisUrl: services.redisUrl,
      redisPrefix,
      clock: systemClock,
      env: { QUOTA_TEST_CLOCK: 'false' },
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    const admin: Quotagate['admin'] = async (method, path, body) => {
      const answer = await t.inject({
        method,
        url: path,
        headers: ADMIN,
        ...(body ? { payload: body } : {}),
      });
      expect(answer.statusCode, `${method} ${path}: ${answer.body}`).toBeLessThan(300);
      return answer.json();
    };
    q = {
      t,
      url,
      admin,
      client: (options = {}) =>
        new QuotaClient({
          baseUrl: url,
          token: SERVICE_TOKEN,
          backoff: { baseMs: 20, maxMs: 1500 },
          ...options,
        }),
      async userLimits(user, models, limits) {
        const group = await admin('POST', '/admin/model-groups', { name: uid('mg'), models });
        for (const limit of limits) {
          await admin('PUT', '/admin/limits', {
            subjectType: 'user',
            subjectId: user,
            modelGroupId: group.id,
            ...limit,
          });
        }
        return group.id as number;
      },
    };
  });
  afterAll(() => q?.t.close());
  return () => q as Quotagate;
}

/** An http.Server on a free loopback port; `close()` also cuts open connections. */
export async function listen(handler: http.RequestListener) {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (bound, then released). */
export async function deadUrl(): Promise<string> {
  const probe = await listen(() => undefined);
  await probe.close();
  return probe.url;
}

export const readBody = (req: http.IncomingMessage): Promise<string> => text(req);
