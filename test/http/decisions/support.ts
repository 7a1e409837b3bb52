import { eq } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, expect } from 'vitest';
import { usageLedger } from '../../../src/db/schema.js';
import { ADMIN, SERVICE, startTestApp, type TestApp } from '../../support/app.js';
import { services, useRedisPrefix, useTestDatabase } from '../../support/services.js';

/**
 * Shared setup of the SPEC §4 HTTP tests: the app over the real PostgreSQL and Redis (or
 * embedded), configured through the admin API as an operator would, driven only by the
 * `x-quota-test-now` header. Every test works on its own users, keys, groups and models.
 */
export const T0 = Date.parse('2027-03-01T10:00:00.000Z'); // a Monday
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const iso = (ms: number) => new Date(ms).toISOString();

let seq = 0;
/** A fresh id for a user, key, model, group or request. */
export const uid = (prefix: string) => `${prefix}-${++seq}`;

export type Body = Record<string, unknown>;

export interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: LightMyRequestResponse['headers'];
  raw: LightMyRequestResponse;
}

export interface Gate {
  t: TestApp;
  /** An admin call; `expectStatus` fails the test on anything else. */
  admin(method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, body?: Body, now?: number): Promise<Answer>;
  /** A model group holding `models`, named uniquely; returns its id and name. */
  modelGroup(models: string[]): Promise<{ id: number; name: string }>;
  /** A user group with stored `members`. */
  userGroup(members?: string[]): Promise<{ id: number; name: string }>;
  /** `PUT /admin/limits` (201 or 200); returns the Limit. */
  limit(body: Body, now?: number): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  boost(body: Body, now?: number): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  reset(body: Body, now: number): Promise<void>;
  check(body: Body, now: number): Promise<Answer>;
  reserve(body: Body, now: number): Promise<Answer>;
  settle(body: Body, now: number): Promise<Answer>;
  release(requestId: string, now: number): Promise<Answer>;
  usage(query: Record<string, string>, now: number): Promise<Answer>;
  /** Deletes every Redis key of this app (its prefix only), as a Redis that lost its data. */
  loseRedisData(): Promise<void>;
  /** Waits until the write-behind (session admissions, first-use starts) reached PostgreSQL. */
  settleWriteBehind(): Promise<void>;
}

function answer(raw: LightMyRequestResponse): Answer {
  let body: unknown = null;
  try {
    body = raw.json();
  } catch {
    body = raw.body;
  }
  return { status: raw.statusCode, body, headers: raw.headers, raw };
}

export function gate(t: TestApp, redisPrefix: string | null = null): Gate {
  const call = async (
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    url: string,
    auth: Record<string, string>,
    body: Body | undefined,
    now: number,
  ) =>
    answer(
      await t.inject({
        method,
        url,
        headers: { ...auth, 'x-quota-test-now': String(now) },
        ...(body === undefined ? {} : { payload: body }),
      }),
    );
  const ok = (a: Answer, ...statuses: number[]) => {
    expect(statuses, `${a.status} ${JSON.stringify(a.body)}`).toContain(a.status);
    return a.body;
  };
  const admin: Gate['admin'] = (method, url, body, now = T0) => call(method, url, ADMIN, body, now);
  return {
    t,
    admin,
    async modelGroup(models) {
      const name = uid('mg');
      const created = ok(await admin('POST', '/admin/model-groups', { name, models }), 201);
      return { id: created.id, name };
    },
    async userGroup(members = []) {
      const name = uid('ug');
      const created = ok(await admin('POST', '/admin/user-groups', { name }), 201);
      if (members.length > 0)
        ok(await admin('POST', `/admin/user-groups/${created.id}/members`, { userIds: members }), 200, 201);
      return { id: created.id, name };
    },
    async limit(body, now = T0) {
      return ok(await admin('PUT', '/admin/limits', body, now), 200, 201);
    },
    async boost(body, now = T0) {
      return ok(await admin('POST', '/admin/boosts', body, now), 201);
    },
    async reset(body, now) {
      ok(await admin('POST', '/admin/resets', body, now), 201);
    },
    check: (body, now) => call('POST', '/check', SERVICE, body, now),
    reserve: (body, now) => call('POST', '/reserve', SERVICE, body, now),
    settle: (body, now) => call('POST', '/settle', SERVICE, body, now),
    release: (requestId, now) => call('POST', '/release', SERVICE, { requestId }, now),
    usage: (query, now) =>
      call('GET', `/usage?${new URLSearchParams(query).toString()}`, SERVICE, undefined, now),
    async loseRedisData() {
      if (!t.redis || !redisPrefix) throw new Error('no Redis in this app');
      let cursor = '0';
      do {
        const [next, keys] = await t.redis.scan(cursor, 'MATCH', `${redisPrefix}:*`, 'COUNT', 500);
        if (keys.length > 0) await t.redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    },
    async settleWriteBehind() {
      // The write-behind flushes 50 ms after the first buffered row.
      await new Promise((resolve) => setTimeout(resolve, 250));
    },
  };
}

/** The app over the real PostgreSQL and Redis (use inside `describeWithServers`). */
export function useServersGate(): () => Gate {
  const databaseUrl = useTestDatabase();
  const redisPrefix = useRedisPrefix();
  let g: Gate | undefined;
  beforeAll(async () => {
    if (!services.redisUrl) return;
    const t = await startTestApp({ databaseUrl: databaseUrl(), redisUrl: services.redisUrl, redisPrefix });
    g = gate(t, redisPrefix);
  });
  afterAll(() => g?.t.close());
  return () => g as Gate;
}

/** Embedded mode: PGlite and the in-process counter store. */
export function useEmbeddedGate(): () => Gate {
  let g: Gate | undefined;
  beforeAll(async () => {
    g = gate(await startTestApp());
  });
  afterAll(() => g?.t.close());
  return () => g as Gate;
}

/** The bucket with this key, failing the test if the decision has none. */
export function bucketOf(body: { buckets: { key: string }[] }, key: string) {
  const found = body.buckets.find((b) => b.key === key);
  expect(found, `bucket ${key} in ${body.buckets.map((b) => b.key).join(', ')}`).toBeDefined();
  return found as any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export const keyOf = (
  axis: 'user' | 'key',
  owner: string,
  group: number | null,
  metric: string,
  slot: string,
) => `${axis}:${owner}|${group === null ? '*' : `g${group}`}|${metric}|${slot}`;

/** `t=` of the RateLimit header, or null when it has none. */
export function rateLimitT(a: Answer): number | null {
  const match = /;t=(\d+)/.exec(String(a.headers['ratelimit'] ?? ''));
  return match ? Number(match[1]) : null;
}

/** A 429 with a known time: Retry-After is whole seconds rounded up and never earlier than `t`. */
export function expectRefusedWithRetry(a: Answer, retryAfterMs: number): void {
  expect(a.status, JSON.stringify(a.body)).toBe(429);
  expect(a.body).toMatchObject({ allowed: false, status: 'rate_limited', reservation: null, retryAfterMs });
  const retryAfter = Number(a.headers['retry-after']);
  expect(retryAfter).toBe(Math.ceil(retryAfterMs / 1000));
  const t = rateLimitT(a);
  if (t !== null) expect(retryAfter).toBeGreaterThanOrEqual(t);
}

export function expectAllowed(a: Answer): void {
  expect(a.status, JSON.stringify(a.body)).toBe(200);
  expect(a.body).toMatchObject({ allowed: true, status: 'ok', retryAfterMs: null, failOpen: false });
}

export function expectProblem(a: Answer, status: number, code: string, field?: string): void {
  expect(a.status, JSON.stringify(a.body)).toBe(status);
  expect(String(a.headers['content-type'])).toContain('application/problem+json');
  expect(a.body).toMatchObject({ status, code });
  if (field !== undefined) {
    expect(a.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  }
}

export async function ledgerRow(g: Gate, requestId: string) {
  const [row] = await g.t.database.db.select().from(usageLedger).where(eq(usageLedger.requestId, requestId));
  return row;
}
