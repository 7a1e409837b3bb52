import { eq } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPostgres, type Database } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { firstUseWindows } from '../../src/db/schema.js';
import { openFirstUseStart } from '../../src/ledger/first-use-starts.js';
import { SettleBatcher } from '../../src/ledger/settle-batcher.js';
import { ledgerEntry } from '../support/ledger.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2027-01-04T10:00:00Z');
const LENGTH = 5 * HOUR;
let sequence = 0;

/**
 * A settle may open a first-use window the store never saw (Redis down, or the instance died
 * before its apply): the ledger statement records where, so a rebuild opens it there.
 */
describeWithPostgres('first-use starts recorded by the ledger statement', () => {
  const url = useTestDatabase();
  let database: Database;
  let batcher: SettleBatcher;
  beforeAll(async () => {
    database = openPostgres(url(), 2);
    await applyMigrations(database);
    batcher = new SettleBatcher(database, pino({ level: 'silent' }));
  });
  afterAll(() => database?.close());

  const bucket = (user: string) => `user:${user}|*|cost|5h`;
  const settle = (user: string, at: number, costMicros: number, reservedAt: number | null = null) => {
    sequence += 1;
    return batcher.submit(
      ledgerEntry({
        requestId: `fu-${sequence}`,
        userId: user,
        costMicros,
        buckets: [bucket(user)],
        reservedAt: reservedAt === null ? null : new Date(reservedAt),
        settledAt: new Date(at),
        firstUseMs: { [bucket(user)]: LENGTH },
      }),
    );
  };
  const starts = async (user: string) =>
    (
      await database.db
        .select()
        .from(firstUseWindows)
        .where(eq(firstUseWindows.bucketKey, bucket(user)))
    )
      .map((r) => r.startedAt.getTime())
      .sort((a, b) => a - b);
  const open = (user: string, now: number) =>
    openFirstUseStart(
      database.db,
      {
        id: bucket(user),
        metric: 'cost',
        limit: 1,
        counting: { mode: 'first_use', lengthMs: LENGTH, floor: 0 },
      },
      now,
    );

  it('records one start per window, not one per settle, and none for a settle of nothing', async () => {
    const user = 'u-windows';
    await settle(user, T0, 0);
    expect(await starts(user)).toEqual([]);
    await settle(user, T0 + HOUR, 500);
    await settle(user, T0 + 2 * HOUR, 500);
    expect(await open(user, T0 + 3 * HOUR)).toBe(T0 + HOUR);
    await settle(user, T0 + 7 * HOUR, 500);
    expect(await starts(user)).toEqual([T0 + HOUR, T0 + 7 * HOUR]);
    expect(await open(user, T0 + 8 * HOUR)).toBe(T0 + 7 * HOUR);
  });

  it('adds nothing inside the window a reserve opened, and opens one where a late settle spends after it', async () => {
    const user = 'u-reserved';
    // The reserve's start, as its write-behind records it.
    await database.db
      .insert(firstUseWindows)
      .values({ bucketKey: bucket(user), startedAt: new Date(T0), lengthMs: LENGTH });
    await settle(user, T0 + HOUR, 500, T0);
    expect(await starts(user)).toEqual([T0]);
    await settle(user, T0 + 6 * HOUR, 500, T0 + 4 * HOUR);
    expect(await starts(user)).toEqual([T0, T0 + 6 * HOUR]);
    expect(await open(user, T0 + 6 * HOUR)).toBe(T0 + 6 * HOUR);
  });

  it('records a reserve the store never wrote behind, and the rebuild skips its settle inside it', async () => {
    const user = 'u-unrecorded';
    await settle(user, T0 + HOUR, 500, T0);
    expect(await starts(user)).toEqual([T0, T0 + HOUR]);
    expect(await open(user, T0 + 2 * HOUR)).toBe(T0);
  });
});
