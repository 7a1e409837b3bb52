import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startTestApp, type TestApp } from '../support/app.js';
import { redisServerAvailable, startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { describeWithServers, useTestDatabase } from '../support/services.js';
import { decisionClient, MODEL, sample } from './fault-support.js';

/**
 * A brand-new user's first decision meets cold buckets; a rebuild reads PostgreSQL. It waits
 * for every instance's write-behind (WRITE_BEHIND_SETTLE_MS) only where admissions can be
 * in flight: after a loss of Redis data this instance detected, or for a subject Redis still
 * knows (SPEC §4.4). A new user is counted as new, not as a rebuild.
 */

const USERS = ['u-new', 'u-new-usage', 'u-lost', 'u-restart', 'u-warm-up', 'u-warm-up-b'];
const LIMITS = [
  { metric: 'sessions', window: '20h', limit: 1 },
  { metric: 'cost', window: '5h', reset: 'first_use', limit: 100 },
  { metric: 'requests', window: '1h', limit: 100 },
];

async function configure(t: TestApp): Promise<void> {
  const group = await t.inject({
    method: 'POST',
    url: '/admin/model-groups',
    headers: ADMIN,
    payload: { name: 'opus', models: [MODEL] },
  });
  expect(group.statusCode).toBe(201);
  for (const subjectId of USERS)
    for (const limit of LIMITS) {
      const put = await t.inject({
        method: 'PUT',
        url: '/admin/limits',
        headers: ADMIN,
        payload: { subjectType: 'user', subjectId, modelGroupId: null, ...limit },
      });
      expect(put.statusCode).toBe(201);
    }
}

/** The counters a rebuild moves, read from /metrics. */
async function counters(t: TestApp) {
  const text = await decisionClient(t).metrics();
  const of = (name: string, labels = '') => sample(text, name, labels) ?? 0;
  return {
    newSubjects: of('quotagate_new_subjects_total'),
    rebuilds: of('quotagate_cold_rebuilds_total'),
    lossWaits: of('quotagate_rebuild_waits_total', 'reason="loss"'),
    waits:
      of('quotagate_rebuild_waits_total', 'reason="loss"') +
      of('quotagate_rebuild_waits_total', 'reason="mark"') +
      of('quotagate_rebuild_waits_total', 'reason="known_subject"'),
  };
}

const reserve = (t: TestApp, userId: string, sessionId: string) =>
  decisionClient(t).post('/reserve', {
    userId,
    model: MODEL,
    requestId: `${userId}-${sessionId}`,
    sessionId,
    estimatedCostUsd: 0.01,
  });

/** A reserve retried while the store answers unavailable (FAIL_MODE=closed: 503): until it was checked after a (re)connection. */
async function reserveOnceReady(t: TestApp, userId: string, sessionId: string) {
  let answer = await reserve(t, userId, sessionId);
  for (let i = 0; answer.statusCode === 503 && i < 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    answer = await reserve(t, userId, sessionId);
  }
  return answer;
}

const enabled = redisServerAvailable();

describeWithServers('the first decision of a new user, two instances on one Redis', () => {
  const databaseUrl = useTestDatabase();
  let redis: PrivateRedis | null = null;
  let a: TestApp;
  let b: TestApp;
  const prefix = 'qgnew';

  beforeAll(async () => {
    if (!enabled) return;
    redis = await startPrivateRedis();
    const env = { FAIL_MODE: 'closed' } as const;
    a = await startTestApp({ databaseUrl: databaseUrl(), redisUrl: redis.url, redisPrefix: prefix, env });
    await configure(a);
    // B starts after the limits exist: its first snapshot has them.
    b = await startTestApp({
      databaseUrl: databaseUrl(),
      redisUrl: redis.url,
      redisPrefix: prefix,
      migrate: false,
      env,
    });
    // Past the start-up window, in which an instance that never saw the store's generation
    // marker treats every subject the store holds nothing of as possibly lost.
    expect((await reserveOnceReady(a, 'u-warm-up', 's-1')).statusCode).toBe(200);
    expect((await reserveOnceReady(b, 'u-warm-up-b', 's-1')).statusCode).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 600));
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await redis?.stop();
  });

  it.skipIf(!enabled)(
    'admits a new user with a sessions limit without waiting for the write-behind',
    async () => {
      const before = await counters(a);
      const first = await reserve(a, 'u-new', 's-1');
      expect(first.statusCode).toBe(200);
      expect(first.json()).toMatchObject({ allowed: true, failOpen: false });
      const after = await counters(a);
      expect(after.newSubjects - before.newSubjects).toBe(1);
      expect(after.rebuilds - before.rebuilds).toBe(0);
      expect(after.waits - before.waits).toBe(0);
      // Its second session is refused by its own first (the seed holds it): sessions 1.
      expect((await reserve(a, 'u-new', 's-2')).statusCode).toBe(429);
    },
  );

  it.skipIf(!enabled)('answers /usage of a new user without waiting either', async () => {
    const before = await counters(a);
    const usage = await a.inject({
      method: 'GET',
      url: `/usage?userId=u-new-usage&model=${MODEL}`,
      headers: { authorization: 'Bearer service-token-0001' },
    });
    expect(usage.statusCode).toBe(200);
    const after = await counters(a);
    expect(after.newSubjects - before.newSubjects).toBe(1);
    expect(after.waits - before.waits).toBe(0);
  });

  it.skipIf(!enabled)(
    'still waits after a FLUSHALL it detects, and counts the admission another instance answered just before',
    async () => {
      // A admits the user's only session; its admission is in A's write-behind buffer.
      expect((await reserve(a, 'u-lost', 's-1')).statusCode).toBe(200);
      const admin = new Redis(redis?.url ?? '');
      await admin.flushall(); // no connection drops: only the generation marker tells
      admin.disconnect();
      const before = await counters(b);
      const second = await reserve(b, 'u-lost', 's-2');
      expect(second.statusCode).toBe(429);
      expect(second.json().reason).toContain('sessions');
      const after = await counters(b);
      expect(after.lossWaits - before.lossWaits).toBe(1);
      expect(after.rebuilds - before.rebuilds).toBeGreaterThan(0);
      expect(after.newSubjects - before.newSubjects).toBe(0);
    },
  );

  it.skipIf(!enabled)(
    'still waits after a restart of Redis, which every instance sees on reconnection',
    async () => {
      expect((await reserve(a, 'u-restart', 's-1')).statusCode).toBe(200);
      const before = await counters(b);
      await redis?.restart();
      // The first answer after the reconnection: the restart guard has seen the new run.
      const second = await reserveOnceReady(b, 'u-restart', 's-2');
      expect(second.statusCode).toBe(429);
      const after = await counters(b);
      expect(after.lossWaits - before.lossWaits).toBe(1);
    },
  );
});

describe('the first decision of a new user on the in-process store', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
    await configure(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('admits a new user without waiting, counted as new', async () => {
    const before = await counters(t);
    expect((await reserve(t, 'u-new', 's-1')).statusCode).toBe(200);
    const after = await counters(t);
    expect(after.newSubjects - before.newSubjects).toBe(1);
    expect(after.rebuilds - before.rebuilds).toBe(0);
    expect(after.waits - before.waits).toBe(0);
    expect((await reserve(t, 'u-new', 's-2')).statusCode).toBe(429);
  });
});
