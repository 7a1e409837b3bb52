import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPostgres, type Database } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { RebuildFlights, withWarmBuckets, type WarmDeps } from '../../src/decisions/warm.js';
import { insertEntries } from '../../src/ledger/ledger-rows.js';
import type { CounterStore, SubjectSeed } from '../../src/store/counter-store.js';
import { connectRedis } from '../../src/store/redis/connect.js';
import { RedisCounterStore } from '../../src/store/redis/redis-store.js';
import { bucket, freshSubject, MINUTE, T0 } from '../store/fixtures.js';
import { ledgerEntry } from '../support/ledger.js';
import { describeWithServers, services, useRedisPrefix, useTestDatabase } from '../support/services.js';

/**
 * A rebuild reads the ledger, then seeds the store. Between the two, a settle can commit,
 * fail to reach the counters (Redis in a failover) and be swept: its subject's flags
 * forgotten, its mark cleared. The seed arriving after that (a slow round trip, a command
 * the cluster client resent late) held usage without the settle; were it written, the
 * subject would be warm without it, and nothing left would say so.
 */
describeWithServers('a rebuild overtaken by a sweep', () => {
  const url = useTestDatabase();
  const prefix = useRedisPrefix();
  let database: Database;
  let redis: Redis;
  let store: RedisCounterStore;

  beforeAll(async () => {
    database = openPostgres(url(), 2);
    await applyMigrations(database);
    redis = connectRedis(services.redisUrl as string, 2_000);
    await redis.connect();
    store = new RedisCounterStore(redis, { prefix });
  });
  afterAll(async () => {
    redis?.disconnect();
    await database?.close();
  });

  /** The real store, whose seeds wait until the test lets them through. */
  function delayedSeeds(real: CounterStore) {
    let arrived: (seed: SubjectSeed) => void = () => undefined;
    let release: () => void = () => undefined;
    const seedArrived = new Promise<SubjectSeed>((resolve) => (arrived = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    const seeds: SubjectSeed[] = [];
    const delayed: CounterStore = Object.create(real) as CounterStore;
    delayed.seed = async (seed) => {
      seeds.push(seed);
      arrived(seed);
      await released;
      return real.seed(seed);
    };
    return { delayed, seedArrived, release, seeds };
  }

  const settled = (subject: string, bucketId: string, costMicros: number, at: number) =>
    ledgerEntry({
      requestId: `${subject}-settle`,
      userId: subject,
      costMicros,
      buckets: [bucketId],
      settledAt: new Date(at),
    });

  it('refuses the late seed and rebuilds again, counting the swept settle', async () => {
    const subject = freshSubject();
    const cost = bucket.costSlices(`${subject}|cost`, 10_000_000);
    const now = T0 + 30 * MINUTE;
    const { delayed, seedArrived, release, seeds } = delayedSeeds(store);
    const deps: WarmDeps = {
      store: delayed,
      db: database.db,
      observer: { rebuilt: () => undefined, newSubject: () => undefined, rebuildWaited: () => undefined },
      writeBehindSettled: async () => undefined,
      lossInFlight: async () => false,
      rebuilds: new RebuildFlights(),
    };
    const check = () =>
      delayed.decide({
        subject,
        buckets: [cost],
        now,
        estimate: 0,
        sessionId: null,
        sessionTtlMs: MINUTE,
        reserve: null,
      });
    const decision = withWarmBuckets(deps, subject, [cost], now, check);
    const stale = await seedArrived;
    expect(stale.buckets[0]?.usage).toEqual([]);
    // The settle commits, its apply fails, and a sweep forgets the subject's flags.
    await insertEntries(database.db, [settled(subject, cost.id, 4_000_000, now - MINUTE)]);
    await store.markCold(subject, 'swept');
    release();
    const outcome = await decision;
    expect(seeds).toHaveLength(2);
    expect(outcome.kind === 'decided' && outcome.states[0]?.used).toBe(4_000_000);
  });
});
