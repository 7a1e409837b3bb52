import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPostgres, type Database } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { dirtySubjects } from '../../src/db/schema.js';
import { DirtySweeper } from '../../src/recovery/dirty-sweeper.js';
import { StoreHealth } from '../../src/recovery/store-health.js';
import { markDirty } from '../../src/ledger/dirty-marks.js';
import { connectRedis } from '../../src/store/redis/connect.js';
import { RedisCounterStore } from '../../src/store/redis/redis-store.js';
import { bucket, freshSubject, T0 } from '../store/fixtures.js';
import { describeWithServers, services, useRedisPrefix, useTestDatabase } from '../support/services.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { until } from '../support/until.js';

/**
 * A sweep reads a mark, makes the store forget the subject's warm flags, then deletes the
 * mark. A settle whose apply fails in between marks the subject again; if a rebuild that
 * read the ledger before that settle made the flags warm meanwhile, only that new marking
 * still stands for the settle, so the sweep must leave it.
 */
describeWithServers('dirty marks under a concurrent sweep', () => {
  const url = useTestDatabase();
  const prefix = useRedisPrefix();
  const cost = bucket.costSlices('cost', 1_000_000);
  let direct: Database;
  let swept: Database;
  let proxy: TcpProxy;
  let redis: Redis;
  let store: RedisCounterStore;

  beforeAll(async () => {
    direct = openPostgres(url(), 2);
    await applyMigrations(direct);
    proxy = TcpProxy.forUrl(url());
    await proxy.start();
    swept = openPostgres(proxy.urlFor(url()), 2);
    redis = connectRedis(services.redisUrl as string, 2_000);
    await redis.connect();
    store = new RedisCounterStore(redis, { prefix });
  });
  afterAll(async () => {
    redis?.disconnect();
    await swept?.close();
    await direct?.close();
    await proxy?.stop();
  });

  const sweeper = () =>
    new DirtySweeper(
      {
        db: swept.db,
        store,
        logger: pino({ level: 'silent' }),
        health: new StoreHealth(),
        drainAlerts: async () => undefined,
      },
      60_000,
    );
  const marked = async (subject: string) =>
    (await direct.db.select().from(dirtySubjects)).some((m) => m.subject === subject);
  const generation = async (subject: string) => {
    const peeked = await store.peek(subject, [cost], T0, null);
    return peeked.kind === 'cold' ? peeked.generation : null;
  };

  it('keeps a mark written again after the sweep forgot the flags, and clears it on the next sweep', async () => {
    const subject = freshSubject();
    await markDirty(direct.db, subject);
    expect(await generation(subject)).toBe('');
    proxy.slowRequests(/delete from "dirty_subjects"/, 600);
    const sweep = sweeper().sweep();
    // The store has forgotten the flags (a new generation); the mark's delete is on its way.
    await until(async () => ((await generation(subject)) ?? '') !== '');
    await markDirty(direct.db, subject);
    await sweep;
    expect(await marked(subject)).toBe(true);
    proxy.slowRequests(/^$/, 0);
    await sweeper().sweep();
    expect(await marked(subject)).toBe(false);
  });

  it('clears a mark nobody wrote again', async () => {
    const subject = freshSubject();
    await markDirty(direct.db, subject);
    await sweeper().sweep();
    expect(await marked(subject)).toBe(false);
  });
});
