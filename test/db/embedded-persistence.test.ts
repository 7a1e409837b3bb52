import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { modelGroups } from '../../src/db/schema.js';

describe('embedded PostgreSQL under DATA_DIR', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'quotagate-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps config across a restart', async () => {
    const first = await openPglite(dir);
    await applyMigrations(first);
    await first.db.insert(modelGroups).values({ name: 'opus' });
    await first.close();

    const second = await openPglite(dir);
    await applyMigrations(second);
    const rows = await second.db.select({ name: modelGroups.name }).from(modelGroups);
    await second.close();
    expect(rows).toEqual([{ name: 'opus' }]);
  }, 120_000); // two PGlite starts: tens of seconds on a busy machine
});
