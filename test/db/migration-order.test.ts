import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { openPostgres, rowsOf } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { migrationsBefore } from '../support/ledger.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';

interface Journal {
  entries: { idx: number; when: number; tag: string }[];
}

const journal = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../migrations/meta/_journal.json'), 'utf8'),
) as Journal;

/**
 * The migrator applies a migration only when its journal time is later than the last one a
 * database applied: a migration stamped earlier than its predecessor is skipped on every
 * database that was already past the predecessor (0008 was, once).
 */
describe('migration journal', () => {
  it('stamps every migration later than the one before it', () => {
    const order = [...journal.entries].sort((a, b) => a.idx - b.idx);
    for (const [i, entry] of order.entries()) {
      if (i > 0) expect(entry.when, entry.tag).toBeGreaterThan(order[i - 1]?.when ?? 0);
    }
  });
});

describeWithPostgres('upgrading a database migrated before 0008', () => {
  const url = useTestDatabase();

  it('applies 0008: the ledger keeps no GIN index on its buckets', async () => {
    const database = openPostgres(url(), 2);
    const folder = migrationsBefore(8);
    try {
      await migratePg(drizzle(database.pool!), { migrationsFolder: folder });
      const ginIndex = sql`select indexname from pg_indexes where indexname = 'usage_ledger_buckets_idx'`;
      expect(rowsOf(await database.db.execute(ginIndex))).toHaveLength(1);
      await applyMigrations(database);
      expect(rowsOf(await database.db.execute(ginIndex))).toHaveLength(0);
    } finally {
      rmSync(folder, { recursive: true, force: true });
      await database.close();
    }
  });
});
