import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite, openPostgres, rowsOf, type Database } from '../../src/db/client.js';
import { applyMigrations, MIGRATIONS_FOLDER } from '../../src/db/migrate.js';
import type { Counting } from '../../src/domain/counting.js';
import type { Metric } from '../../src/domain/types.js';
import { createAheadPartitions } from '../../src/ledger/ledger-partitions.js';
import type { LedgerEntry } from '../../src/ledger/ledger-rows.js';
import { rebuildSeed } from '../../src/ledger/rebuild.js';
import { SettleBatcher } from '../../src/ledger/settle-batcher.js';
import { ledgerEntry, migrationsBefore } from '../support/ledger.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';

const logger = pino({ level: 'silent' });
const DAY = 86_400_000;
const NOW = Date.parse('2027-03-20T12:00:30.000Z');
const BUCKET = 'user:u-p|*|mixed';
/** Rows at 0005: four months of history (2026-10 .. 2027-01), one released, one released then settled. */
const OLD_TIMES = Array.from({ length: 24 }, (_, i) => Date.parse('2026-10-03T10:00:00Z') + i * 5 * DAY);

async function migrateFolder(database: Database, folder: string): Promise<void> {
  if (database.pool) await migratePg(drizzle(database.pool), { migrationsFolder: folder });
  else await migratePglite(database.db as unknown as PgliteDatabase, { migrationsFolder: folder });
}

/** Ledger rows written at 0005, with their rollups counted the way 0005's backfill counts them. */
async function seedAt0005(database: Database): Promise<void> {
  for (const [i, at] of OLD_TIMES.entries()) {
    const status = i === 3 || i === 7 ? 'released' : 'settled';
    await database.db.execute(sql`
      insert into usage_ledger (request_id, user_id, model, cost_micros, input_tokens, output_tokens,
        counted_in_user_global, counted_in_key_global, buckets, status, reserved_at, settled_at)
      values (${`old-${i}`}, 'u-p', 'm', ${status === 'released' ? 0 : 1_000 + i}, ${i}, 1, true, false,
        ${JSON.stringify([BUCKET])}::jsonb, ${status}, ${new Date(at - 60_000).toISOString()}::timestamptz,
        ${new Date(at).toISOString()}::timestamptz)`);
  }
  const backfill = readFileSync(join(MIGRATIONS_FOLDER, '0005_ledger_rollups.sql'), 'utf8')
    .split('--> statement-breakpoint')
    .at(-1)!;
  await database.db.execute(sql.raw(backfill));
}

const ledgerRows = async (database: Database) =>
  rowsOf<Record<string, unknown>>(
    await database.db.execute(sql`
      select id, request_id, user_id, key_id, model, model_group_id, cost_micros, input_tokens, output_tokens,
        counted_in_user_global, counted_in_key_global, buckets, status, reserved_at, settled_at, metadata
      from usage_ledger order by id`),
  );
const rollups = async (database: Database) =>
  rowsOf<Record<string, unknown>>(
    await database.db.execute(sql`select * from ledger_rollups order by bucket, level, slice_start`),
  );
const partitionsOf = async (database: Database) =>
  rowsOf<{ name: string }>(
    await database.db.execute(
      sql`select inhrelid::regclass::text as name from pg_inherits where inhparent = 'usage_ledger'::regclass order by 1`,
    ),
  ).map((r) => r.name);

const COUNTINGS: [Metric, Counting][] = [
  ['cost', { mode: 'window', start: 0, end: null }],
  ['requests', { mode: 'window', start: 0, end: null }],
  ['input_tokens', { mode: 'window', start: 0, end: null }],
  ['cost', { mode: 'slices', lengthMs: 30 * DAY, sliceMs: DAY / 2, floor: 0 }],
  ['requests', { mode: 'slices', lengthMs: 200 * DAY, sliceMs: (200 * DAY) / 60, floor: 0 }],
];
/** What a cold rebuild (Redis lost) counts for each bucket shape. */
const decisions = async (database: Database) => {
  const buckets = COUNTINGS.map(([metric, counting], i) => ({
    id: BUCKET,
    metric,
    counting,
    limit: 1e12,
    i,
  }));
  const seed = await rebuildSeed(database.db, 'u-p', buckets, NOW);
  return seed.buckets.map((b) => b.usage.reduce((n, u) => n + u.amount, 0));
};

let sequence = 0;
function entry(at: number, overrides: Partial<LedgerEntry> = {}): LedgerEntry {
  sequence += 1;
  const fields = { requestId: `new-${sequence}`, userId: 'u-p', buckets: [BUCKET], settledAt: new Date(at) };
  return ledgerEntry({
    ...fields,
    costMicros: 2_000 + sequence,
    inputTokens: 3,
    outputTokens: 4,
    ...overrides,
  });
}

function carriesForward(open: () => Promise<Database>) {
  let database: Database;
  let folder: string;
  let before: { rows: Record<string, unknown>[]; rollups: Record<string, unknown>[]; decisions: number[] };
  beforeAll(async () => {
    database = await open();
    folder = migrationsBefore(6);
    await migrateFolder(database, folder);
    await seedAt0005(database);
    before = {
      rows: await ledgerRows(database),
      rollups: await rollups(database),
      decisions: await decisions(database),
    };
    await applyMigrations(database);
  });
  afterAll(async () => {
    rmSync(folder, { recursive: true, force: true });
    await database?.close();
  });

  it('keeps every row, id, rollup and total, each row in the partition of its month', async () => {
    expect(await ledgerRows(database)).toEqual(before.rows);
    expect(await rollups(database)).toEqual(before.rollups);
    expect(await decisions(database)).toEqual(before.decisions);
    const parts = await partitionsOf(database);
    for (const month of ['y2026m10', 'y2026m11', 'y2026m12', 'y2027m01'])
      expect(parts).toContain(`usage_ledger_${month}`);
    expect(parts).toContain('usage_ledger_default');
    const stray = await database.db.execute(sql`select count(*)::int as n from usage_ledger_default`);
    expect(rowsOf<{ n: number }>(stray)[0]!.n).toBe(0);
    const keys = await database.db.execute(sql`
      select count(*)::int as n from usage_ledger u join ledger_request_ids g
        on g.request_id = u.request_id and g.recorded_at = u.recorded_at and u.recorded_at = u.settled_at`);
    expect(rowsOf<{ n: number }>(keys)[0]!.n).toBe(OLD_TIMES.length);
  });

  it("answers a rebuild's slice reads from the rollup key alone (0007: it includes the amounts)", async () => {
    // A tiny table would be read sequentially whatever its indexes: rule that out, then the
    // key either serves the amounts itself (index-only) or sends every row to the heap.
    const plan = await database.db.transaction(async (tx) => {
      await tx.execute(sql`set local enable_seqscan = off`);
      await tx.execute(sql`set local enable_bitmapscan = off`);
      return rowsOf<{ 'QUERY PLAN': string }>(
        await tx.execute(sql`explain select slice_start, requests, cost_micros, input_tokens + output_tokens
          from ledger_rollups where bucket = ${BUCKET} and level = 'minute'
            and slice_start >= timestamptz '2026-10-01' and slice_start < timestamptz '2027-02-01'`),
      ).map((r) => r['QUERY PLAN']);
    });
    expect(plan.join('\n')).toMatch(/Index Only Scan using ledger_rollups_bucket_level_slice_start_pk/);
  });

  it('keeps no index on buckets on any partition (0008), and reads a bucket by its owner and time', async () => {
    const indexed = await database.db.execute(sql`
      select count(*)::int as n from pg_indexes
      where tablename like 'usage_ledger%' and indexdef like '%(buckets%'`);
    expect(rowsOf<{ n: number }>(indexed)[0]!.n).toBe(0);
    const plan = await database.db.transaction(async (tx) => {
      await tx.execute(sql`set local enable_seqscan = off`);
      return rowsOf<{ 'QUERY PLAN': string }>(
        await tx.execute(sql`explain select cost_micros from usage_ledger
          where user_id = 'u-p' and buckets ? ${BUCKET} and settled_at >= timestamptz '2026-12-01'`),
      ).map((r) => r['QUERY PLAN']);
    });
    expect(plan.join('\n')).toMatch(/usage_ledger_y2026m12_user_id_settled_at_idx/);
  });

  it('charges a duplicate settle and a release-then-settle exactly once', async () => {
    const batcher = new SettleBatcher(database, logger);
    const rolledBefore = await rollups(database);
    expect((await batcher.submit(entry(NOW, { requestId: 'old-1' }))).kind).toBe('exists');
    expect(await rollups(database)).toEqual(rolledBefore);
    // old-3 was released at 0005; its settle now turns it settled in its own (old) partition.
    const late = entry(NOW - DAY, { requestId: 'old-3', costMicros: 7_000 });
    expect((await batcher.submit(late)).kind).toBe('written');
    expect((await batcher.submit({ ...late })).kind).toBe('exists');
    const rows = rowsOf<{ status: string; cost_micros: number; part: string }>(
      await database.db.execute(
        sql`select status, cost_micros::int as cost_micros, tableoid::regclass::text as part from usage_ledger where request_id = 'old-3'`,
      ),
    );
    expect(rows).toEqual([{ status: 'settled', cost_micros: 7000, part: 'usage_ledger_y2026m10' }]);
    const fresh = entry(NOW - 2 * DAY, { status: 'released', costMicros: 0 });
    expect((await batcher.submit(fresh)).kind).toBe('written');
    expect((await batcher.submit({ ...fresh, status: 'settled', costMicros: 900 })).kind).toBe('written');
    expect((await batcher.submit({ ...fresh, status: 'settled', costMicros: 900 })).kind).toBe('exists');
    const totals = rowsOf<{ requests: number; cost_micros: number }>(
      await database.db.execute(sql`
        select requests::int as requests, cost_micros::int as cost_micros from ledger_rollups where bucket = ${BUCKET} and level = 'all'`),
    );
    const raw = rowsOf<{ n: number; cost: number }>(
      await database.db.execute(sql`
        select count(*)::int as n, coalesce(sum(cost_micros) filter (where status = 'settled'), 0)::int as cost from usage_ledger`),
    );
    expect(totals).toEqual([{ requests: raw[0]!.n, cost_micros: raw[0]!.cost }]);
    expect(raw[0]!.n).toBe(OLD_TIMES.length + 1);
  });

  it('decides the same after the oldest month is detached', async () => {
    const batcher = new SettleBatcher(database, logger);
    for (let i = 0; i < 5; i++) await batcher.submit(entry(NOW - i * 40_000 - 5_000));
    const kept = await decisions(database);
    await database.db.execute(sql`alter table usage_ledger detach partition usage_ledger_y2026m10`);
    expect(await partitionsOf(database)).not.toContain('usage_ledger_y2026m10');
    expect(await decisions(database)).toEqual(kept);
    // A late duplicate settle of a detached month's request is still not charged, and is
    // answered as the repeat it is (so the settle is not applied to the counters again),
    // in one statement as row by row.
    const rolled = await rollups(database);
    const late = entry(NOW, { requestId: 'old-0' });
    expect(await batcher.submit(late)).toMatchObject({
      kind: 'exists',
      row: { costMicros: late.costMicros },
    });
    const rowByRow = new SettleBatcher(
      { ...database, prepared: () => Promise.reject(new Error('refused')) },
      logger,
    );
    expect(await rowByRow.submit({ ...late })).toMatchObject({
      kind: 'exists',
      row: { costMicros: late.costMicros },
    });
    expect(await rollups(database)).toEqual(rolled);
  });
}

describeWithPostgres('migration 0006 on PostgreSQL carries an existing ledger into partitions', () => {
  const url = useTestDatabase();
  carriesForward(async () => openPostgres(url(), 2));
});

describe('migration 0006 on embedded PostgreSQL (PGlite) carries an existing ledger into partitions', () => {
  carriesForward(() => openPglite('memory://'));
});

describe('ledger partition maintenance', () => {
  let database: Database;
  beforeAll(async () => {
    database = await openPglite('memory://');
    await applyMigrations(database);
  });
  afterAll(() => database?.close());

  it('creates the current month and the months ahead once', async () => {
    const at = Date.parse('2028-06-15T00:00:00Z');
    expect(await createAheadPartitions(database.db, at, 2)).toEqual(
      ['y2028m06', 'y2028m07', 'y2028m08'].map((m) => ({
        partitionName: `usage_ledger_${m}`,
        created: true,
      })),
    );
    expect(await createAheadPartitions(database.db, at, 2)).toEqual([]);
    expect(await partitionsOf(database)).toEqual(expect.arrayContaining(['usage_ledger_y2028m08']));
  });

  it('skips a month whose rows already sit in DEFAULT and creates the others', async () => {
    const batcher = new SettleBatcher(database, logger);
    const stray = entry(Date.parse('2029-01-10T00:00:00Z'));
    expect((await batcher.submit(stray)).kind).toBe('written');
    expect(await createAheadPartitions(database.db, Date.parse('2029-01-01T00:00:00Z'), 1)).toEqual([
      { partitionName: 'usage_ledger_y2029m01', created: false },
      { partitionName: 'usage_ledger_y2029m02', created: true },
    ]);
    const where = await database.db.execute(
      sql`select tableoid::regclass::text as part from usage_ledger where request_id = ${stray.requestId}`,
    );
    expect(rowsOf<{ part: string }>(where)).toEqual([{ part: 'usage_ledger_default' }]);
    expect((await batcher.submit({ ...stray })).kind).toBe('exists');
  });
});
