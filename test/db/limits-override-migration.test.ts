import { rmSync } from 'node:fs';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPostgres, rowsOf, type Database } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { loadSnapshotRows } from '../../src/snapshot/load.js';
import { migrationsBefore } from '../support/ledger.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';

/** Migration 0009: limits gain `override` (user limits only) and the `everyone` subject ('*'). */
describeWithPostgres('migration 0009 (limits.override, everyone)', () => {
  const url = useTestDatabase();
  let database: Database;
  let folder: string;
  beforeAll(async () => {
    database = openPostgres(url(), 2);
    folder = migrationsBefore(9);
    await migratePg(drizzle(database.pool!), { migrationsFolder: folder });
    await database.db.execute(sql`
      insert into limits (subject_type, subject_id, metric, "window", slot, reset, cap)
      values ('user', 'u-old', 'cost', '5h', '5h', 'rolling', 1000000),
             ('user_group', '7', 'requests', '1m', '1m', 'rolling', 10)`);
    await applyMigrations(database);
  });
  afterAll(async () => {
    rmSync(folder, { recursive: true, force: true });
    await database?.close();
  });

  it('carries existing limits forward as plain, merged limits (override false)', async () => {
    const { limits } = await loadSnapshotRows(database.db);
    expect(limits.map((l) => [l.subjectType, l.subjectId, l.cap, l.override])).toEqual([
      ['user', 'u-old', 1_000_000, false],
      ['user_group', '7', 10, false],
    ]);
  });

  it('refuses an override on anything but a user limit', async () => {
    await expect(
      database.db.execute(sql`
        insert into limits (subject_type, subject_id, metric, "window", slot, cap, override)
        values ('key', 'k-1', 'cost', '5h', '5h', 1, true)`),
    ).rejects.toMatchObject({ cause: { constraint: 'limits_override_user' } });
  });

  it('refuses an everyone limit whose subject id is not "*"', async () => {
    await expect(
      database.db.execute(sql`
        insert into limits (subject_type, subject_id, metric, "window", slot, cap)
        values ('everyone', 'all', 'cost', '5h', '5h', 1)`),
    ).rejects.toMatchObject({ cause: { constraint: 'limits_everyone_subject' } });
    const ok = await database.db.execute(sql`
      insert into limits (subject_type, subject_id, metric, "window", slot, cap)
      values ('everyone', '*', 'cost', '5h', '5h', 1) returning override`);
    expect(rowsOf<{ override: boolean }>(ok)).toEqual([{ override: false }]);
  });
});
