import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { openPostgres, type Database } from '../../src/db/client.js';
import { applyMigrations, MIGRATIONS_FOLDER } from '../../src/db/migrate.js';
import type { LedgerEntry } from '../../src/ledger/ledger-rows.js';
import { useTestDatabase } from './services.js';
import { TcpProxy } from './tcp-proxy.js';

/** A settled entry charged to `buckets` at `settledAt`; the rest defaults to a plain settle. */
export function ledgerEntry(
  fields: Pick<LedgerEntry, 'requestId' | 'userId' | 'buckets' | 'settledAt' | 'costMicros'> &
    Partial<LedgerEntry>,
): LedgerEntry {
  return {
    keyId: null,
    model: 'm',
    modelGroupId: null,
    inputTokens: 0,
    outputTokens: 0,
    countedInUserGlobal: true,
    countedInKeyGlobal: false,
    status: 'settled',
    reservedAt: null,
    metadata: null,
    markDirty: false,
    ...fields,
  };
}

/** A copy of the migrations folder as it stood before migration `idx` (the caller removes it). */
export function migrationsBefore(idx: number): string {
  const folder = mkdtempSync(join(tmpdir(), 'qg-migrations-'));
  cpSync(MIGRATIONS_FOLDER, folder, { recursive: true });
  const journalPath = join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as {
    entries: { idx: number; tag: string }[];
  };
  for (const e of journal.entries.filter((e) => e.idx >= idx)) rmSync(join(folder, `${e.tag}.sql`));
  journal.entries = journal.entries.filter((e) => e.idx < idx);
  writeFileSync(journalPath, JSON.stringify(journal));
  return folder;
}

/**
 * A migrated test database reached through a TcpProxy the test can cut and restore, opened
 * once for the describe block (use inside `describeWithPostgres`).
 */
export function useProxiedPostgres(): () => { database: Database; proxy: TcpProxy } {
  const url = useTestDatabase();
  let proxy: TcpProxy | undefined;
  let database: Database | undefined;
  beforeAll(async () => {
    const direct = openPostgres(url(), 1);
    await applyMigrations(direct);
    await direct.close();
    proxy = TcpProxy.forUrl(url());
    await proxy.start();
    database = openPostgres(proxy.urlFor(url()), 2);
  });
  afterAll(async () => {
    await database?.close();
    await proxy?.stop();
  });
  return () => {
    if (!database || !proxy) throw new Error('useProxiedPostgres: read only inside tests');
    return { database, proxy };
  };
}
