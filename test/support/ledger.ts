import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS_FOLDER } from '../../src/db/migrate.js';
import type { LedgerEntry } from '../../src/ledger/ledger-rows.js';

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
