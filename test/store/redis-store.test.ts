import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreBucket } from '../../src/store/counter-store.js';
import { encodeId } from '../../src/store/ids.js';
import { connectRedis } from '../../src/store/redis/connect.js';
import { redisKey } from '../../src/store/redis/keys.js';
import { RedisCounterStore } from '../../src/store/redis/redis-store.js';
import { StoreUnavailableError } from '../../src/store/store-errors.js';
import { describeWithRedis, services, useRedisPrefix } from '../support/services.js';
import { counterStoreConformance } from './conformance.js';
import { bucket, DAY, decided, driver, freshSubject, HOUR, MINUTE, rid, SECOND, T0 } from './fixtures.js';

const prefix = useRedisPrefix();
const clients: Redis[] = [];

async function client(timeoutMs = 2_000): Promise<Redis> {
  const redis = connectRedis(services.redisUrl as string, timeoutMs);
  await redis.connect();
  clients.push(redis);
  return redis;
}

afterAll(() => {
  for (const redis of clients) redis.disconnect();
});

describeWithRedis('Redis counter store', () => {
  counterStoreConformance('Redis', async () => new RedisCounterStore(await client(), { prefix }));

  let store: RedisCounterStore;
  let redis: Redis;
  beforeAll(async () => {
    redis = await client();
    store = new RedisCounterStore(redis, { prefix });
  });
  const d = driver(() => store);

  it('gives every key a TTL except total counters', async () => {
    const u = freshSubject('ttl');
    const total = bucket.window('total', 'cost', 1_000_000, 0, null);
    const buckets: StoreBucket[] = [
      bucket.costSlices('cost', 1_000_000),
      bucket.requestsLog('requests', 100),
      bucket.sessionsLog('sessions', 100),
      bucket.window('daily', 'requests', 100, T0, T0 + DAY),
      bucket.firstUse('fu', 'cost', 1_000_000),
      bucket.concurrency('slots', 100),
      total,
    ];
    await store.seed({
      subject: u,
      now: T0,
      buckets: buckets.map((b) => ({
        bucket: b,
        usage: [{ at: T0 - MINUTE, amount: 1, requestId: 'seeded' }],
        sessions: [{ sessionId: 'old', admittedAt: T0 - MINUTE, activeUntil: T0 + MINUTE }],
        firstUseStart: T0 - MINUTE,
      })),
      watermark: { snapshot: '10:12:11', excludedRequestId: null },
      generation: '',
    });
    await d.reserve(u, buckets, T0, 'r1', { estimate: 10, sessionId: 's1' });
    await d.reserve(u, buckets, T0, 'r2', { estimate: 10, sessionId: 's2' });
    await d.settle(u, buckets, T0 + SECOND, 'r1', 5);
    await d.release(u, buckets, T0 + SECOND, 'r2');
    await d.settle(u, buckets, T0 + SECOND, 'direct', 5, true);

    const pointers = ['r1', 'r2'].map((r) => redisKey(prefix, { kind: 'pointer', requestId: rid(u, r) }));
    const keys = [...(await scan(`${prefix}:{${encodeId(u)}}:*`)), ...pointers];
    const persistent = [];
    for (const key of keys) if ((await redis.pttl(key)) < 0) persistent.push(key);
    expect(keys.length).toBeGreaterThan(10);
    expect(persistent).toHaveLength(1);
    expect(persistent[0]).toMatch(/:u:[A-Za-z0-9_-]+:w$/);
    expect(await redis.hget(persistent[0] as string, 'n')).toBe('11');
  });

  it('decides in one round trip carrying one script call', async () => {
    const u = freshSubject('trip');
    const buckets = [
      bucket.costSlices('cost', 1_000_000),
      bucket.requestsLog('requests', 100),
      bucket.concurrency('slots', 100),
    ];
    await d.warm(u, buckets);
    await d.reserve(u, buckets, T0, 'warm-up'); // the first call on a connection ships the script body (EVAL)
    const writes = await recordWrites(redis, () => d.reserve(u, buckets, T0, 'r1', { estimate: 5 }));
    expect(writes).toHaveLength(1);
    expect(writes[0]?.match(/\r\n(evalsha|eval)\r\n/gi)).toHaveLength(1);
    const dry = await recordWrites(redis, () => d.check(u, buckets, T0, { estimate: 5 }));
    expect(dry).toHaveLength(1);
  });

  describe('under concurrency', () => {
    it('admits exactly 50 of 200 parallel reserves against a requests cap of 50, from two clients', async () => {
      const u = freshSubject('race');
      const requests = [bucket.requestsLog('requests', 50, HOUR)];
      const stores = [store, new RedisCounterStore(await client(), { prefix })];
      await d.warm(u, requests);
      const outcomes = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          (stores[i % 2] as RedisCounterStore).decide({
            subject: u,
            buckets: requests,
            now: T0 + i,
            estimate: 0,
            sessionId: null,
            sessionTtlMs: MINUTE,
            reserve: { requestId: `${u}/r${i}`, bodyHash: 'h', holdTtlMs: MINUTE, payload: '' },
          }),
        ),
      );
      expect(outcomes.filter((o) => decided(o).admitted)).toHaveLength(50);
      expect((await d.states(u, requests, T0 + 200)).get('requests')?.used).toBe(50);
    });

    it('admits exactly 30 of 100 parallel $0.10 holds against $3', async () => {
      const u = freshSubject('holds');
      const cost = [bucket.costSlices('cost', 3_000_000, 5 * HOUR, 5 * MINUTE)];
      const stores = [store, new RedisCounterStore(await client(), { prefix })];
      await d.warm(u, cost);
      const outcomes = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          (stores[i % 2] as RedisCounterStore).decide({
            subject: u,
            buckets: cost,
            now: T0,
            estimate: 100_000,
            sessionId: null,
            sessionTtlMs: MINUTE,
            reserve: { requestId: `${u}/h${i}`, bodyHash: 'h', holdTtlMs: MINUTE, payload: '' },
          }),
        ),
      );
      expect(outcomes.filter((o) => decided(o).admitted)).toHaveLength(30);
      expect((await d.states(u, cost, T0)).get('cost')).toMatchObject({ used: 0, held: 3_000_000 });
    });
    it('gives a request id raced by two subjects to exactly one of them', async () => {
      const other = new RedisCounterStore(await client(), { prefix });
      const cost = [bucket.costSlices('cost', 1_000_000)];
      for (let round = 0; round < 10; round++) {
        const [a, b] = [freshSubject('a'), freshSubject('b')];
        await Promise.all([d.warm(a, cost), d.warm(b, cost)]);
        const requestId = `${a}/race`;
        const input = (subject: string) => ({
          subject,
          buckets: cost,
          now: T0,
          estimate: 10,
          sessionId: null,
          sessionTtlMs: MINUTE,
          reserve: { requestId, bodyHash: subject, holdTtlMs: MINUTE, payload: '' },
        });
        const outcomes = await Promise.all([store.decide(input(a)), other.decide(input(b))]);
        const owner = (await store.reservation(requestId))?.subject;
        expect(outcomes.map((o) => o.kind).sort()).toEqual(['decided', 'existing']);
        const loser = owner === a ? b : a;
        expect((await d.states(loser, cost, T0)).get('cost')?.held).toBe(0);
        expect((await d.states(owner as string, cost, T0)).get('cost')?.held).toBe(10);
      }
    });
  });

  describe('when Redis is unreachable', () => {
    it('fails every call with StoreUnavailableError', async () => {
      const offline = connectRedis('redis://127.0.0.1:1', 200); // never connected: no offline queue
      const unreachable = new RedisCounterStore(offline, { prefix });
      const cost = [bucket.costSlices('cost', 1_000)];
      try {
        await expect(unreachable.peek('x', cost, T0, null)).rejects.toBeInstanceOf(StoreUnavailableError);
        await expect(unreachable.reservation('r')).rejects.toBeInstanceOf(StoreUnavailableError);
        const reserve = { requestId: 'r', bodyHash: '', holdTtlMs: 1, payload: '' };
        const input = {
          subject: 'x',
          buckets: cost,
          now: T0,
          estimate: 1,
          sessionId: null,
          sessionTtlMs: 1,
          reserve,
        };
        await expect(unreachable.decide(input)).rejects.toBeInstanceOf(StoreUnavailableError);
      } finally {
        offline.disconnect();
      }
    });
  });

  it('refuses a key prefix that would open a hash tag', () => {
    expect(() => new RedisCounterStore(redis, { prefix: 'a{b' })).toThrow(TypeError);
  });
});

async function scan(pattern: string): Promise<string[]> {
  const redis = clients[0] as Redis;
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** Socket writes `run` makes on a client: one write is one round trip. */
async function recordWrites(redis: Redis, run: () => Promise<unknown>): Promise<string[]> {
  const stream = redis.stream;
  const writes: string[] = [];
  const original = stream.write.bind(stream);
  stream.write = ((chunk: string | Buffer, ...rest: never[]) => {
    writes.push(chunk.toString());
    return original(chunk, ...rest);
  }) as typeof stream.write;
  try {
    await run();
  } finally {
    stream.write = original;
  }
  return writes;
}
