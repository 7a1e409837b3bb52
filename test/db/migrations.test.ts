import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { openPglite, openPostgres, type Database } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';

const TABLES = [
  'audit_log',
  'dirty_subjects',
  'first_use_windows',
  'boosts',
  'config_version',
  'limits',
  'model_group_members',
  'model_groups',
  'reset_markers',
  'session_admissions',
  'usage_ledger',
  'user_group_members',
  'user_groups',
];

async function tablesOf(database: Database): Promise<string[]> {
  const rows = await database.db.execute<{ table_name: string }>(
    sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
  );
  return (rows as unknown as { rows: { table_name: string }[] }).rows.map((r) => r.table_name);
}

async function appliedCount(database: Database): Promise<number> {
  const rows = await database.db.execute<{ n: number }>(
    sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
  );
  return (rows as unknown as { rows: { n: number }[] }).rows[0]?.n ?? 0;
}

function migrationContract(open: () => Promise<Database>) {
  it('creates every table from empty and seeds the config version', async () => {
    const database = await open();
    try {
      await applyMigrations(database);
      expect(await tablesOf(database)).toEqual(expect.arrayContaining(TABLES));
      const version = await database.db.execute(sql`select version from config_version where id = 1`);
      expect((version as unknown as { rows: { version: unknown }[] }).rows).toHaveLength(1);
    } finally {
      await database.close();
    }
  });

  it('is a no-op when applied again', async () => {
    const database = await open();
    try {
      await applyMigrations(database);
      const before = await appliedCount(database);
      await applyMigrations(database);
      expect(await appliedCount(database)).toBe(before);
      expect(before).toBeGreaterThan(0);
    } finally {
      await database.close();
    }
  });
}

describeWithPostgres('migrations on PostgreSQL', () => {
  const url = useTestDatabase();
  migrationContract(async () => openPostgres(url(), 2));

  it('lets instances starting together migrate one at a time', async () => {
    const [a, b] = [openPostgres(url(), 2), openPostgres(url(), 2)];
    try {
      await Promise.all([applyMigrations(a), applyMigrations(b)]);
      expect(await tablesOf(a)).toEqual(expect.arrayContaining(TABLES));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('migrations on embedded PostgreSQL (PGlite)', () => {
  let shared: Database | null = null;
  migrationContract(async () => {
    // One in-memory database across both cases, so the second proves re-application.
    shared ??= await openPglite('memory://');
    const database = shared;
    return { ...database, close: async () => undefined };
  });
});
