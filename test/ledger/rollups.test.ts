import { rmSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPostgres, type Database } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import type { LedgerEntry } from '../../src/ledger/ledger-rows.js';
import { rebuildSeed } from '../../src/ledger/rebuild.js';
import { SettleBatcher } from '../../src/ledger/settle-batcher.js';
import type { Counting } from '../../src/domain/counting.js';
import type { Metric } from '../../src/domain/types.js';
import type { StoreBucket } from '../../src/store/counter-store.js';
import { ledgerEntry, migrationsBefore } from '../support/ledger.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';

const logger = pino({ level: 'silent' });
const MIN = 60_000;
const DAY = 86_400_000;
// 30 s past a minute: no row sits in the minute straddling a window start (those count whole).
const NOW = Date.parse('2027-03-20T12:00:30.000Z');
const BUCKET = 'user:u-r|*|mixed';
/** Keys that end in a slot: a settle writes only the rollup levels the slot can read (rollupLevels). */
const slotted = (slot: string) => `user:u-r|*|m|${slot}`;
const SLOTS = ['5h', 'daily', '7d', '30d', 'monthly', 'total'];
let sequence = 0;

function entry(at: number, overrides: Partial<LedgerEntry> = {}): LedgerEntry {
  sequence += 1;
  const buckets = [BUCKET, ...SLOTS.map(slotted)];
  const fields = { requestId: `roll-${sequence}`, userId: 'u-r', buckets, settledAt: new Date(at) };
  const amounts = {
    costMicros: 1_000 + (sequence % 7) * 111,
    inputTokens: sequence % 5,
    outputTokens: sequence % 3,
  };
  return ledgerEntry({ ...fields, ...amounts, ...overrides });
}

const bucket = (metric: Metric, counting: Counting, id = BUCKET): StoreBucket => ({
  id,
  metric,
  counting,
  limit: 5000,
});
const used = async (db: Database, b: StoreBucket) => {
  const seed = await rebuildSeed(db.db, 'u-r', [b], NOW);
  return seed.buckets[0]!.usage.reduce((n, u) => n + u.amount, 0);
};

/** What the raw ledger holds in [from, now] for the bucket, the way requestUsage / chargedUsage count. */
async function rawSum(db: Database, metric: Metric, from: number): Promise<number> {
  const since = new Date(from).toISOString();
  const amount = {
    cost: sql`cost_micros`,
    input_tokens: sql`input_tokens`,
    output_tokens: sql`output_tokens`,
    tokens: sql`input_tokens + output_tokens`,
  } as const;
  const query =
    metric === 'requests'
      ? sql`select count(*) as n from usage_ledger where buckets @> ${JSON.stringify([BUCKET])}::jsonb
          and coalesce(reserved_at, settled_at) >= ${since}::timestamptz`
      : sql`select coalesce(sum(${amount[metric as keyof typeof amount]}), 0) as n from usage_ledger
          where buckets @> ${JSON.stringify([BUCKET])}::jsonb and status = 'settled' and settled_at >= ${since}::timestamptz`;
  const result = await db.db.execute(query);
  return Number((result as unknown as { rows: { n: string }[] }).rows[0]!.n);
}

interface RollupTotal {
  bucket: string;
  level: string;
  requests: number;
  cost: number;
}

async function rollupTotals(db: Database): Promise<RollupTotal[]> {
  const result = await db.db.execute(sql`
    select bucket, level, sum(requests)::int as requests, sum(cost_micros)::int as cost
    from ledger_rollups group by bucket, level order by bucket, level`);
  return (result as unknown as { rows: RollupTotal[] }).rows;
}

describeWithPostgres('ledger rollups on PostgreSQL', () => {
  const url = useTestDatabase();
  let database: Database;
  beforeAll(async () => {
    database = openPostgres(url(), 4);
    await applyMigrations(database);
    const batcher = new SettleBatcher(database, logger);
    // 40 days of history every ~37 minutes, a recent burst, and released rows.
    const times: number[] = [];
    for (let t = NOW - 40 * DAY + 17_000; t < NOW; t += 37 * MIN + 13_000) times.push(t);
    for (let i = 1; i < 30; i++) times.push(NOW - i * 20_000 - 5_000);
    await Promise.all(times.map((t) => batcher.submit(entry(t))));
    await Promise.all(
      times
        .filter((_, i) => i % 9 === 0)
        .map((t) => batcher.submit(entry(t, { status: 'released', costMicros: 0 }))),
    );
    // Released, then settled later (its request must count once, at its reserve).
    const late = entry(NOW - 3 * DAY, {
      status: 'released',
      costMicros: 0,
      reservedAt: new Date(NOW - 3 * DAY),
    });
    await batcher.submit(late);
    await batcher.submit({
      ...late,
      status: 'settled',
      costMicros: 5_000,
      settledAt: new Date(NOW - 2 * DAY),
    });
  });
  afterAll(() => database?.close());

  /** [name, metric, counting, its range's start, the slot of its limit]. */
  const cases: [string, Metric, Counting, number, string][] = [
    [
      'rolling 5h slices, cost',
      'cost',
      { mode: 'slices', lengthMs: (DAY / 24) * 5, sliceMs: ((DAY / 24) * 5) / 60, floor: 0 },
      NOW - (DAY / 24) * 5 + 1,
      '5h',
    ],
    [
      'fixed 5h window, cost',
      'cost',
      { mode: 'window', start: NOW - 4 * 60 * MIN - 30_000, end: NOW + 60 * MIN - 30_000 },
      NOW - 4 * 60 * MIN - 30_000,
      '5h',
    ],
    [
      'rolling 7d slices, cost',
      'cost',
      { mode: 'slices', lengthMs: 7 * DAY, sliceMs: (7 * DAY) / 60, floor: 0 },
      NOW - 7 * DAY + 1,
      '7d',
    ],
    [
      'rolling 1d slices, tokens',
      'tokens',
      { mode: 'slices', lengthMs: DAY, sliceMs: DAY / 60, floor: 0 },
      NOW - DAY + 1,
      'daily',
    ],
    [
      'rolling 30d slices, requests (large cap)',
      'requests',
      { mode: 'slices', lengthMs: 30 * DAY, sliceMs: (30 * DAY) / 60, floor: 0 },
      NOW - 30 * DAY + 1,
      '30d',
    ],
    [
      'calendar month window, cost',
      'cost',
      { mode: 'window', start: Date.parse('2027-03-01T00:00:00+01:00'), end: null },
      Date.parse('2027-03-01T00:00:00+01:00'),
      'monthly',
    ],
    [
      'calendar day window in New York (starts on the hour), cost',
      'cost',
      { mode: 'window', start: Date.parse('2027-03-20T00:00:00-04:00'), end: null },
      Date.parse('2027-03-20T00:00:00-04:00'),
      'daily',
    ],
    ['total, requests', 'requests', { mode: 'window', start: 0, end: null }, 0, 'total'],
    ['total, input tokens', 'input_tokens', { mode: 'window', start: 0, end: null }, 0, 'total'],
    [
      'total after a reset marker, cost',
      'cost',
      { mode: 'window', start: NOW - 10 * DAY + 30_000, end: null },
      NOW - 10 * DAY + 30_000,
      'total',
    ],
  ];
  for (const [name, metric, counting, from, slot] of cases) {
    it(`rebuilds ${name} from rollups as from raw rows`, async () => {
      expect(await used(database, bucket(metric, counting))).toBe(await rawSum(database, metric, from));
    });
    it(`rebuilds ${name} as from raw rows from the levels its slot (${slot}) writes`, async () => {
      const own = bucket(metric, counting, slotted(slot));
      expect(await used(database, own)).toBe(await rawSum(database, metric, from));
    });
  }

  it('reads a bounded number of entries whatever the history: rollup rows plus the raw recent edge', async () => {
    const counting: Counting = { mode: 'slices', lengthMs: 30 * DAY, sliceMs: (30 * DAY) / 60, floor: 0 };
    const seed = await rebuildSeed(database.db, 'u-r', [bucket('cost', counting)], NOW);
    const usage = seed.buckets[0]!.usage;
    const raw = usage.filter((u) => !u.requestId.startsWith('rollup:'));
    expect(raw.every((u) => u.at >= NOW - 16 * MIN)).toBe(true);
    // Hour rollups at most (an hour ≤ 30 days / 60), minutes at the edges: bounded by the
    // window, not by the history.
    expect(usage.length - raw.length).toBeLessThanOrEqual(30 * 24 + 2 * 59);
    expect(usage.length).toBeLessThan(await rawSum(database, 'requests', NOW - 30 * DAY + 1));
    const total = await rebuildSeed(
      database.db,
      'u-r',
      [bucket('cost', { mode: 'window', start: 0, end: null })],
      NOW,
    );
    expect(total.buckets[0]!.usage.length).toBe(raw.length + 1);
  });

  it('never counts less than the raw rows when a window starts inside a slice', async () => {
    const counting: Counting = { mode: 'slices', lengthMs: 7 * DAY + 25_000, sliceMs: DAY, floor: 0 };
    expect(await used(database, bucket('cost', counting))).toBeGreaterThanOrEqual(
      await rawSum(database, 'cost', NOW - counting.lengthMs + 1),
    );
  });

  it('rebuilds first-use windows from rollups as from raw rows', async () => {
    const start = NOW - 5 * DAY + 30_000;
    await database.db.execute(
      sql`insert into first_use_windows (bucket_key, started_at, length_ms) values (${BUCKET}, ${new Date(start).toISOString()}, ${7 * DAY})`,
    );
    const counting: Counting = { mode: 'first_use', lengthMs: 7 * DAY, floor: 0 };
    expect(await used(database, bucket('cost', counting))).toBe(await rawSum(database, 'cost', start));
  });

  it('a duplicate settle does not count twice in the rollups', async () => {
    const before = await rollupTotals(database);
    const batcher = new SettleBatcher(database, logger);
    const again = entry(NOW - 4 * DAY, { requestId: 'roll-1' });
    expect((await batcher.submit(again)).kind).toBe('exists');
    expect(await rollupTotals(database)).toEqual(before);
  });

  it('the rollups of every level hold what the ledger holds', async () => {
    const all = await rawSum(database, 'cost', 0);
    const requests = await rawSum(database, 'requests', 0);
    for (const row of await rollupTotals(database)) expect([row.requests, row.cost]).toEqual([requests, all]);
  });

  it('writes each bucket the levels its slot can read, and a key of no known slot every level', async () => {
    const totals = await rollupTotals(database);
    const levelsOf = (key: string) =>
      totals
        .filter((r) => r.bucket === key)
        .map((r) => r.level)
        .sort();
    expect(levelsOf(BUCKET)).toEqual(['all', 'day', 'hour', 'minute']);
    expect(levelsOf(slotted('5h'))).toEqual(['hour', 'minute']);
    expect(levelsOf(slotted('daily'))).toEqual(['day', 'hour', 'minute']);
    expect(levelsOf(slotted('monthly'))).toEqual(['day', 'hour', 'minute']);
    expect(levelsOf(slotted('total'))).toEqual(['all', 'day', 'hour', 'minute']);
  });
});

describeWithPostgres('migration 0005 carries an existing ledger into the rollups', () => {
  const url = useTestDatabase();
  let database: Database;
  let oldFolder: string;
  beforeAll(() => {
    database = openPostgres(url(), 2);
    oldFolder = migrationsBefore(5);
  });
  afterAll(async () => {
    rmSync(oldFolder, { recursive: true, force: true });
    await database?.close();
  });

  it('backfills rollups equal to the rows', async () => {
    await migrate(drizzle(database.pool!), { migrationsFolder: oldFolder });
    await database.db.execute(sql`
      insert into usage_ledger (request_id, user_id, model, cost_micros, counted_in_user_global,
        counted_in_key_global, buckets, status, reserved_at, settled_at)
      select 'old-' || i, 'u-old', 'm', case when i % 4 = 0 then 0 else 1000 + i end, true, false,
        ${JSON.stringify([BUCKET])}::jsonb, case when i % 4 = 0 then 'released' else 'settled' end,
        null, ${new Date(NOW).toISOString()}::timestamptz - i * interval '47 minutes'
      from generate_series(1, 2000) i`);
    await applyMigrations(database);
    const all = await rawSum(database, 'cost', 0);
    const requests = await rawSum(database, 'requests', 0);
    expect(requests).toBe(2000);
    const totals = await rollupTotals(database);
    expect(totals.map((r) => r.level)).toEqual(['all', 'day', 'hour', 'minute']);
    for (const row of totals) expect([row.requests, row.cost]).toEqual([requests, all]);
    const counting: Counting = { mode: 'slices', lengthMs: 30 * DAY, sliceMs: (30 * DAY) / 60, floor: 0 };
    expect(await used(database, bucket('cost', counting))).toBeGreaterThanOrEqual(
      await rawSum(database, 'cost', NOW - 30 * DAY + 1),
    );
  });
});
