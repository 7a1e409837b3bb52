import { inArray, sql } from 'drizzle-orm';
import { positional, rowsOf, type Database, type Executor } from '../db/client.js';
import { entryColumns, RECORDED_ROWS, WRITE_BATCH, WRITE_ROWS } from './ledger-statement.js';
import { usageLedger } from '../db/schema.js';

/** One settle or release as the ledger records it (money in µ$). */
export interface LedgerEntry {
  requestId: string;
  userId: string;
  keyId: string | null;
  model: string;
  modelGroupId: number | null;
  costMicros: number;
  inputTokens: number;
  outputTokens: number;
  countedInUserGlobal: boolean;
  countedInKeyGlobal: boolean;
  /** Display keys of the buckets the request was counted and charged in. */
  buckets: string[];
  status: 'settled' | 'released';
  reservedAt: Date | null;
  settledAt: Date;
  metadata: unknown;
  /** Redis is known unreachable: mark the subject dirty in the same transaction. */
  markDirty: boolean;
  /**
   * The first-use buckets among `buckets`, by key: their window length in ms. The statement
   * records where this request may have opened a window (ledger-statement.ts `opened`).
   */
  firstUseMs?: Record<string, number>;
}

export interface StoredLedgerRow {
  requestId: string;
  costMicros: number;
  inputTokens: number;
  outputTokens: number;
  status: 'settled' | 'released';
  reservedAt: Date | null;
  settledAt: Date;
  countedInUserGlobal: boolean;
  countedInKeyGlobal: boolean;
  buckets: string[];
}

/**
 * Inserts entries (WRITE_ROWS: their rollups, the reservations they close and the dirty
 * marks asked for too); a settle on a released row turns it settled with the settle's
 * buckets and cost split (a settle after a release charges exactly what a settle before it
 * would, SPEC §4.5). Returns the request ids this call wrote.
 */
export async function insertEntries(tx: Executor, entries: LedgerEntry[]): Promise<Set<string>> {
  return (await insertEntriesWithXid(tx, entries)).written;
}

/** insertEntries, with the caller's transaction's xid8 when it wrote a row (LedgerOutcome). */
export async function insertEntriesWithXid(
  tx: Executor,
  entries: LedgerEntry[],
): Promise<{ written: Set<string>; xid: string | null }> {
  const first = await writeRows(tx, entries);
  // A settle that met a row committed after its statement began could not see that row: a
  // second statement (a new snapshot under READ COMMITTED) can.
  const again =
    first.raced.size > 0
      ? await writeRows(
          tx,
          entries.filter((e) => first.raced.has(e.requestId)),
        )
      : null;
  return {
    written: new Set([...first.written, ...(again?.written ?? [])]),
    xid: first.xid ?? again?.xid ?? null,
  };
}

/**
 * `raced`: ids a concurrent transaction committed after this statement's snapshot (WRITE_ROWS);
 * `xid`: the caller's transaction, when a row was written.
 */
async function writeRows(
  tx: Executor,
  entries: LedgerEntry[],
): Promise<{ written: Set<string>; raced: Set<string>; xid: string | null }> {
  const result = await tx.execute(positional(WRITE_ROWS, entryColumns(entries)));
  const rows = rowsOf<{ request_id: string; raced: boolean; xid: string | null }>(result);
  return {
    written: new Set(rows.filter((r) => !r.raced).map((r) => r.request_id)),
    raced: new Set(rows.filter((r) => r.raced).map((r) => r.request_id)),
    xid: rows.find((r) => r.xid !== null)?.xid ?? null,
  };
}

/** What one WRITE_BATCH statement did. */
export interface BatchWrite {
  written: Set<string>;
  raced: Set<string>;
  existing: Map<string, StoredLedgerRow>;
  /** The apply intent of the batch's settles, when it had any. */
  intent?: number;
  /** The batch transaction's xid8, when it wrote a row. */
  xid?: string;
}

/** A row of RECORDED_ROWS, or of WRITE_BATCH (whose other kinds leave the columns null). */
interface BatchRow {
  kind: 'written' | 'raced' | 'exists' | 'archived' | 'intent' | 'xid';
  request_id: string;
  cost_micros: string | number | null;
  input_tokens: string | number | null;
  output_tokens: string | number | null;
  status: StoredLedgerRow['status'] | null;
  reserved_at: Date | string | null;
  settled_at: Date | string | null;
  counted_in_user_global: boolean | null;
  counted_in_key_global: boolean | null;
  buckets: string[] | null;
}

const dateOf = (value: Date | string) => (value instanceof Date ? value : new Date(value));

/** A ledger batch in one prepared statement (WRITE_BATCH): its own transaction, one round trip. */
export async function writeBatchStatement(
  database: Database,
  entries: LedgerEntry[],
  dueMs: number,
): Promise<BatchWrite> {
  const rows = await database.prepared<BatchRow>('qg_ledger_batch', WRITE_BATCH, [
    ...entryColumns(entries),
    dueMs,
  ]);
  const done: BatchWrite = { written: new Set(), raced: new Set(), existing: new Map() };
  const recorded: BatchRow[] = [];
  for (const r of rows) {
    if (r.kind === 'written') done.written.add(r.request_id);
    else if (r.kind === 'raced') done.raced.add(r.request_id);
    else if (r.kind === 'intent') done.intent = Number(r.request_id);
    else if (r.kind === 'xid') done.xid = r.request_id;
    else recorded.push(r);
  }
  done.existing = recordedByRequest(recorded, entries);
  return done;
}

/** The ledger's rows for these entries' request ids (RECORDED_ROWS), archived ones included. */
export async function recordedRows(
  tx: Executor,
  entries: LedgerEntry[],
): Promise<Map<string, StoredLedgerRow>> {
  if (entries.length === 0) return new Map();
  const result = await tx.execute(positional(RECORDED_ROWS, [entries.map((e) => e.requestId)]));
  return recordedByRequest(rowsOf<BatchRow>(result), entries);
}

function recordedByRequest(rows: BatchRow[], entries: LedgerEntry[]): Map<string, StoredLedgerRow> {
  const byId = new Map(entries.map((e) => [e.requestId, e]));
  const found = new Map<string, StoredLedgerRow>();
  for (const r of rows) {
    const entry = byId.get(r.request_id);
    found.set(r.request_id, r.kind === 'archived' && entry ? archivedRow(entry, r.settled_at) : storedRow(r));
  }
  return found;
}

/**
 * A request id only the gate still knows (ledger_request_ids outlives a detached month): a
 * repeat of it, charged nothing again. Its stored amounts went with the month, so it is
 * answered with the repeat's own.
 */
function archivedRow(entry: LedgerEntry, recordedAt: Date | string | null): StoredLedgerRow {
  return {
    requestId: entry.requestId,
    costMicros: entry.costMicros,
    inputTokens: entry.inputTokens,
    outputTokens: entry.outputTokens,
    status: entry.status,
    reservedAt: entry.reservedAt,
    settledAt: dateOf(recordedAt ?? entry.settledAt),
    countedInUserGlobal: entry.countedInUserGlobal,
    countedInKeyGlobal: entry.countedInKeyGlobal,
    buckets: entry.buckets,
  };
}

function storedRow(r: BatchRow): StoredLedgerRow {
  return {
    requestId: r.request_id,
    costMicros: Number(r.cost_micros),
    inputTokens: Number(r.input_tokens),
    outputTokens: Number(r.output_tokens),
    status: r.status ?? 'settled',
    reservedAt: r.reserved_at === null ? null : dateOf(r.reserved_at),
    settledAt: dateOf(r.settled_at ?? new Date(0)),
    countedInUserGlobal: r.counted_in_user_global ?? false,
    countedInKeyGlobal: r.counted_in_key_global ?? false,
    buckets: r.buckets ?? [],
  };
}

export async function findRows(tx: Executor, requestIds: string[]): Promise<Map<string, StoredLedgerRow>> {
  if (requestIds.length === 0) return new Map();
  const rows = await tx
    .select({
      requestId: usageLedger.requestId,
      costMicros: usageLedger.costMicros,
      inputTokens: usageLedger.inputTokens,
      outputTokens: usageLedger.outputTokens,
      status: usageLedger.status,
      reservedAt: usageLedger.reservedAt,
      settledAt: usageLedger.settledAt,
      countedInUserGlobal: usageLedger.countedInUserGlobal,
      countedInKeyGlobal: usageLedger.countedInKeyGlobal,
      buckets: usageLedger.buckets,
    })
    .from(usageLedger)
    .where(inArray(usageLedger.requestId, requestIds));
  return new Map(rows.map((r) => [r.requestId, { ...r, status: r.status as StoredLedgerRow['status'] }]));
}

/**
 * The batch's promise to apply its settles to the counter store (apply_intents); due
 * `dueMs` after the commit, when a sweep takes it for an apply that never finished.
 */
export async function insertApplyIntent(tx: Executor, subjects: string[], dueMs: number): Promise<number> {
  const result = await tx.execute(sql`
    insert into apply_intents (subjects, due_at)
    values (${JSON.stringify([...new Set(subjects)])}::jsonb, now() + ${dueMs} * interval '1 millisecond')
    returning id`);
  const [row] = rowsOf<{ id: string | number }>(result);
  if (!row) throw new Error('apply intent not recorded');
  return Number(row.id);
}
