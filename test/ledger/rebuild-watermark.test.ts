import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pino } from 'pino';
import { openPostgres, type Database } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { insertEntriesWithXid } from '../../src/ledger/ledger-rows.js';
import { rebuildSeed } from '../../src/ledger/rebuild.js';
import { SettleBatcher } from '../../src/ledger/settle-batcher.js';
import type { CounterStore, StoreBucket } from '../../src/store/counter-store.js';
import { MemoryCounterStore } from '../../src/store/memory/memory-store.js';
import { connectRedis } from '../../src/store/redis/connect.js';
import { RedisCounterStore } from '../../src/store/redis/redis-store.js';
import { driver, freshSubject, HOUR, MINUTE } from '../store/fixtures.js';
import { ledgerEntry } from '../support/ledger.js';
import { describeWithServers, services, useRedisPrefix, useTestDatabase } from '../support/services.js';

/**
 * A rebuild seeds what its PostgreSQL snapshot saw; a settle's apply can land before the
 * rebuild, while it reads, or long after. Each settle must count once in every bucket: not
 * again when the seed already counted it, not never when the seed could not see it —
 * including a settle whose transaction began before a later one that the snapshot saw
 * committed (the case an ordering by row id or time gets wrong).
 */
describeWithServers('a rebuild watermark: late applies of the settles a rebuild read', () => {
  const url = useTestDatabase();
  const prefix = useRedisPrefix();
  const logger = pino({ level: 'silent' });
  let database: Database;
  let redis: Redis;
  let batcher: SettleBatcher;
  const stores: Record<string, CounterStore> = {};

  beforeAll(async () => {
    database = openPostgres(url(), 4);
    await applyMigrations(database);
    batcher = new SettleBatcher(database, logger);
    redis = connectRedis(services.redisUrl as string, 2_000);
    await redis.connect();
    stores.Redis = new RedisCounterStore(redis, { prefix });
    stores['in-process'] = new MemoryCounterStore();
  });
  afterAll(async () => {
    redis?.disconnect();
    await database?.close();
  });

  /** Every path a rebuild reads: an all-time row, minute rollups, raw sums per 10 s slice. */
  const bucketsOf = (u: string): StoreBucket[] => [
    {
      id: `user:${u}|*|cost|total`,
      metric: 'cost',
      counting: { mode: 'window', start: 0, end: null },
      limit: 1e9,
    },
    {
      id: `user:${u}|*|cost|1h`,
      metric: 'cost',
      counting: { mode: 'slices', lengthMs: HOUR, sliceMs: MINUTE, floor: 0 },
      limit: 1e9,
    },
    {
      id: `user:${u}|*|cost|10m`,
      metric: 'cost',
      counting: { mode: 'slices', lengthMs: 10 * MINUTE, sliceMs: 10_000, floor: 0 },
      limit: 1e9,
    },
  ];

  const entryOf = (u: string, name: string, costMicros: number, buckets: StoreBucket[]) =>
    ledgerEntry({
      requestId: `${u}-${name}`,
      userId: u,
      buckets: buckets.map((b) => b.id),
      settledAt: new Date(),
      costMicros,
    });

  /** Commits the settle through the settle path's batcher; its xid is what its apply carries. */
  async function commit(u: string, name: string, costMicros: number, buckets: StoreBucket[]) {
    const outcome = await batcher.submit(entryOf(u, name, costMicros, buckets));
    if (outcome.kind !== 'written' || !outcome.xid)
      throw new Error(`not written: ${JSON.stringify(outcome)}`);
    return outcome.xid;
  }

  it('reads a burst in the current minute as a bounded number of sums, exactly', async () => {
    const u = freshSubject('burst');
    const buckets = bucketsOf(u);
    const costs = Array.from({ length: 3_000 }, (_, i) => 1_000 + (i % 7));
    await Promise.all(costs.map((c, i) => batcher.submit(entryOf(u, `b${i}`, c, buckets))));
    const seed = await rebuildSeed(database.db, u, buckets, Date.now());
    const total = costs.reduce((a, b) => a + b, 0);
    for (const b of seed.buckets) expect(b.usage.reduce((n, e) => n + e.amount, 0)).toBe(total);
    // All-time row; minute rows (the burst spans at most two minutes); one sum per 10 s slice.
    const [all, minutes, slices] = seed.buckets.map((b) => b.usage.length);
    expect(all).toBe(1);
    expect(minutes).toBeLessThanOrEqual(2);
    expect(slices).toBeLessThanOrEqual(61);
    expect(seed.watermark?.snapshot).toMatch(/^\d+:\d+:[\d,]*$/);
  });

  for (const name of ['Redis', 'in-process']) {
    it(`${name}: counts every settle once, whether its apply lands before, during or after a rebuild`, async () => {
      const store = stores[name] as CounterStore;
      const d = driver(() => store);
      const u = freshSubject('wm');
      const buckets = bucketsOf(u);
      const apply = (request: string, cost: number, ledgerXid: string | null, charged = buckets) =>
        store.settle({
          subject: u,
          requestId: `${u}-${request}`,
          buckets: charged,
          now: Date.now(),
          cost,
          countRequest: false,
          ledgerXid,
        });
      await d.warm(u, buckets, Date.now());

      // Applied before the loss: the rebuild counts it from the ledger.
      expect(await apply('before', 100, await commit(u, 'before', 100, buckets))).toEqual({
        kind: 'applied',
      });
      // Committed, applies still on their way while Redis loses the subject.
      const late = await commit(u, 'late', 200, buckets);
      // Begun first, committed only after the rebuild read: its xid is below `overtook`'s.
      // Their buckets differ (one settle's rollup rows would hold the other until it commits).
      const [total, hour, tenMinutes] = buckets as [StoreBucket, StoreBucket, StoreBucket];
      let commitRunning: () => void = () => undefined;
      const running = new Promise<void>((resolve) => (commitRunning = resolve));
      let runningXid: string | null = null;
      let begun: () => void = () => undefined;
      const hasBegun = new Promise<void>((resolve) => (begun = resolve));
      const transaction = database.db.transaction(async (tx) => {
        runningXid = (await insertEntriesWithXid(tx, [entryOf(u, 'running', 400, [total, hour])])).xid;
        begun();
        await running;
      });
      await hasBegun;
      const overtook = await commit(u, 'overtook', 800, [tenMinutes]);
      expect(BigInt(runningXid ?? '0')).toBeLessThan(BigInt(overtook));

      await store.markCold(u, 'lost');
      const seed = await rebuildSeed(database.db, u, buckets, Date.now());
      await store.seed({ ...seed, generation: 'lost' });
      commitRunning();
      await transaction;

      // Seen by the rebuild: nothing again. Not seen: charged now. Committed after: charged.
      expect(await apply('late', 200, late)).toEqual({ kind: 'applied' });
      expect(await apply('overtook', 800, overtook, [tenMinutes])).toEqual({ kind: 'applied' });
      expect(await apply('running', 400, runningXid, [total, hour])).toEqual({ kind: 'applied' });
      expect(await apply('after', 1_600, await commit(u, 'after', 1_600, buckets))).toEqual({
        kind: 'applied',
      });
      // And a second apply of one the seed counted is still one.
      expect(await apply('late', 200, late)).toEqual({ kind: 'already_applied' });

      const states = await d.states(u, buckets, Date.now());
      const everywhere = 100 + 200 + 1_600;
      expect(states.get(total.id)?.used).toBe(everywhere + 400);
      expect(states.get(hour.id)?.used).toBe(everywhere + 400);
      expect(states.get(tenMinutes.id)?.used).toBe(everywhere + 800);
    });

    it(`${name}: a settle rebuilding for itself is charged by its own apply, once`, async () => {
      const store = stores[name] as CounterStore;
      const d = driver(() => store);
      const u = freshSubject('own');
      const buckets = bucketsOf(u);
      await d.warm(u, buckets, Date.now());
      const xid = await commit(u, 'own', 300, buckets);
      const other = await commit(u, 'other', 50, buckets);
      await store.markCold(u, 'lost');
      const seed = await rebuildSeed(database.db, u, buckets, Date.now(), {
        requestId: `${u}-own`,
        countsRequest: false,
      });
      await store.seed({ ...seed, generation: 'lost' });
      const settle = (request: string, cost: number, ledgerXid: string) =>
        store.settle({
          subject: u,
          requestId: `${u}-${request}`,
          buckets,
          now: Date.now(),
          cost,
          countRequest: false,
          ledgerXid,
        });
      expect(await settle('own', 300, xid)).toEqual({ kind: 'applied' });
      // Its batch-mate `other` was read by the seed: its late apply charges nothing.
      expect(await settle('other', 50, other)).toEqual({ kind: 'applied' });
      const states = await d.states(u, buckets, Date.now());
      for (const b of buckets) expect(states.get(b.id)?.used).toBe(350);
    });
  }
});
