import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPostgres, type Database } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { rebuildSeed } from '../../src/ledger/rebuild.js';
import { insertReservations, type ReservationRow } from '../../src/reservations/rows.js';
import type { StoreBucket } from '../../src/store/counter-store.js';
import { freshSubject, HOUR, MINUTE } from '../store/fixtures.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';

/**
 * Reservations the ledger does not hold yet (open, or lapsed without a settle) count their
 * request in a rebuild. A user with thousands of them must not make the rebuild read
 * thousands of rows: they are counted per slice in SQL (an exact log keeps its newest).
 */
describeWithPostgres('a rebuild counts open and lapsed reservations in bounded reads', () => {
  const url = useTestDatabase();
  let database: Database;

  beforeAll(async () => {
    database = openPostgres(url(), 2);
    await applyMigrations(database);
  });
  afterAll(async () => {
    await database?.close();
  });

  const requests = (u: string, window: string, counting: StoreBucket['counting']): StoreBucket => ({
    id: `user:${u}|*|requests|${window}`,
    metric: 'requests',
    counting,
    limit: 1_000_000,
  });

  it('reads 5,000 reservations as one count per slice, and as one for a window counter', async () => {
    const u = freshSubject('lapsed');
    const now = Date.now();
    const buckets = [
      requests(u, '1h', { mode: 'slices', lengthMs: HOUR, sliceMs: MINUTE, floor: 0 }),
      requests(u, 'total', { mode: 'window', start: 0, end: null }),
    ];
    const rows: ReservationRow[] = Array.from({ length: 5_000 }, (_, i) => ({
      requestId: `${u}-r${i}`,
      userId: u,
      // Spread over the last ten minutes, all inside both windows.
      reservedAt: new Date(now - 1 - (i % 600) * 1_000),
      expiresAt: new Date(now - 1),
      buckets: buckets.map((b) => b.id),
      payload: '{}',
    }));
    await database.db.transaction((tx) => insertReservations(tx, rows));
    const seed = await rebuildSeed(database.db, u, buckets, now);
    const [sliced, total] = seed.buckets.map((b) => b.usage);
    for (const usage of [sliced, total]) expect(usage?.reduce((n, e) => n + e.amount, 0)).toBe(5_000);
    expect(sliced?.length).toBeLessThanOrEqual(11);
    expect(total).toHaveLength(1);
  });

  it('keeps an exact request log to its newest reservations', async () => {
    const u = freshSubject('log');
    const now = Date.now();
    const log = requests(u, '1h', { mode: 'log', lengthMs: HOUR, floor: 0 });
    const rows: ReservationRow[] = Array.from({ length: 1_500 }, (_, i) => ({
      requestId: `${u}-r${i}`,
      userId: u,
      reservedAt: new Date(now - 1 - i * 100),
      expiresAt: new Date(now - 1),
      buckets: [log.id],
      payload: '{}',
    }));
    await database.db.transaction((tx) => insertReservations(tx, rows));
    const [rebuilt] = (await rebuildSeed(database.db, u, [{ ...log, limit: 10 }], now)).buckets;
    // max(limit, 1000): what the store's log keeps, the newest first.
    expect(rebuilt?.usage).toHaveLength(1_000);
    expect(Math.min(...(rebuilt?.usage ?? []).map((e) => e.at))).toBe(now - 1 - 999 * 100);
  });
});
