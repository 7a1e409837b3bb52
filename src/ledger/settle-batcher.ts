import type { Logger } from 'pino';
import type { Database, Executor } from '../db/client.js';
import type { ApplyIntents } from './apply-intents.js';
import { isDatabaseUnavailable, sqlState } from '../db/errors.js';
import {
  insertApplyIntent,
  insertEntriesWithXid,
  recordedRows,
  writeBatchStatement,
  type LedgerEntry,
  type StoredLedgerRow,
} from './ledger-rows.js';

/** How long a committed settle may take to reach the counter store before a sweep rebuilds its subject. */
export const APPLY_DUE_MS = 10_000;

export type LedgerOutcome =
  /**
   * This call wrote the row (or turned a released row settled); `xid`: the xid8 of the
   * transaction that committed it (unknown after a retried COMMIT whose outcome was lost).
   */
  | { kind: 'written'; intent?: number; xid?: string }
  /** The request id was already recorded by an earlier call. */
  | { kind: 'exists'; row: StoredLedgerRow; intent?: number }
  /** This row cannot be stored (logged, counted); the rest of its batch was. `message`: its SQLSTATE or error name, no values. */
  | { kind: 'invalid'; message: string };

export class LedgerUnavailableError extends Error {
  override name = 'LedgerUnavailableError';
}

interface Pending {
  entry: LedgerEntry;
  resolve: (outcome: LedgerOutcome) => void;
  reject: (err: unknown) => void;
}

export interface BatcherOptions {
  maxBatch?: number;
  /** Batches committing at once, each its own transaction (one COMMIT round trip no longer caps the rate). */
  maxInFlight?: number;
  /** Retries of a batch whose COMMIT outcome is unknown (connection lost). */
  retries?: number;
  onBatch?: (size: number, seconds: number) => void;
  /** Told how many answered settles each committed apply intent covers. */
  intents?: ApplyIntents;
  /** Told of rows the database refused (answered `invalid`, never retried). */
  onRefused?: (table: 'usage_ledger', rows: number) => void;
}

/**
 * Group commit for the ledger: entries that arrive while commits are in flight wait and go
 * together in the next transaction, so concurrent settles share one COMMIT; up to
 * `maxInFlight` batches commit at once. A request id waits while an earlier entry of it is
 * in flight, so entries of one request commit in arrival order. Nobody is
 * answered before their row's fate is known: a lost connection during COMMIT retries the
 * whole batch (idempotent by request id) before anyone hears back; a bad row is retried
 * alone in a savepoint so it never sinks the others.
 */
export class SettleBatcher {
  private queue: Pending[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  /** Request ids of the batches in flight. */
  private readonly busy = new Set<string>();
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  private readonly retries: number;

  constructor(
    private readonly database: Database,
    private readonly logger: Logger,
    private readonly options: BatcherOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 500;
    this.maxInFlight = options.maxInFlight ?? 3;
    this.retries = options.retries ?? 3;
  }

  submit(entry: LedgerEntry): Promise<LedgerOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once everything submitted so far has its answer (graceful shutdown). */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight.size > 0) {
      if (this.inFlight.size > 0) await Promise.all(this.inFlight);
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Let every settle that arrives in this event-loop turn join the next batch. */
  private schedule(): void {
    if (this.scheduled || this.inFlight.size >= this.maxInFlight) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.launch();
    });
  }

  private launch(): void {
    while (this.inFlight.size < this.maxInFlight && this.queue.length > 0) {
      const batch = this.takeBatch();
      if (batch.length === 0) return;
      const run: Promise<void> = this.commitBatch(batch).finally(() => {
        this.inFlight.delete(run);
        for (const p of batch) this.busy.delete(p.entry.requestId);
        this.launch();
      });
      this.inFlight.add(run);
    }
  }

  /** The oldest entries whose request id has nothing in flight; the rest keep their place. */
  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    const taken = new Set<string>();
    for (const p of this.queue) {
      const id = p.entry.requestId;
      if (batch.length < this.maxBatch && (taken.has(id) || !this.busy.has(id))) {
        batch.push(p);
        taken.add(id);
      } else rest.push(p);
    }
    this.queue = rest;
    for (const id of taken) this.busy.add(id);
    return batch;
  }

  private async commitBatch(batch: Pending[]): Promise<void> {
    const started = performance.now();
    try {
      const outcomes = await this.withRetries((attempt) =>
        this.writeBatch(
          batch.map((p) => p.entry),
          attempt,
        ),
      );
      for (const outcome of outcomes)
        if (outcome.kind !== 'invalid' && outcome.intent !== undefined)
          this.options.intents?.opened(outcome.intent, 1);
      batch.forEach((p, i) => p.resolve(outcomes[i] ?? { kind: 'invalid', message: 'no outcome' }));
      this.options.onBatch?.(batch.length, (performance.now() - started) / 1000);
    } catch (err) {
      const failure = isDatabaseUnavailable(err)
        ? new LedgerUnavailableError('PostgreSQL is unreachable')
        : err;
      for (const p of batch) p.reject(failure);
    }
  }

  private async withRetries<T>(run: (attempt: number) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await run(attempt);
      } catch (err) {
        if (!isDatabaseUnavailable(err) || attempt >= this.retries) throw err;
        this.logger.warn({ err, attempt }, 'ledger commit outcome unknown; retrying the batch');
        await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      }
    }
  }

  /** Repeats of a request id within one batch are answered as the later arrivals they are. */
  private async writeBatch(all: LedgerEntry[], attempt: number): Promise<LedgerOutcome[]> {
    const firsts = new Map<string, LedgerEntry>();
    for (const entry of all) if (!firsts.has(entry.requestId)) firsts.set(entry.requestId, entry);
    const outcomes = await this.writeUnique([...firsts.values()], attempt > 0);
    const byId = new Map([...firsts.keys()].map((id, i) => [id, outcomes[i]]));
    return all.map((entry) => {
      const first = firsts.get(entry.requestId);
      const outcome = byId.get(entry.requestId) ?? { kind: 'invalid', message: 'no outcome' };
      if (first === entry || !first || outcome.kind !== 'written') return outcome;
      const row = {
        requestId: first.requestId,
        costMicros: first.costMicros,
        inputTokens: first.inputTokens,
        outputTokens: first.outputTokens,
        status: first.status,
        reservedAt: first.reservedAt,
        settledAt: first.settledAt,
        countedInUserGlobal: first.countedInUserGlobal,
        countedInKeyGlobal: first.countedInKeyGlobal,
        buckets: first.buckets,
      };
      return { kind: 'exists', row };
    });
  }

  /** `retried`: an earlier attempt's COMMIT outcome is unknown, so a row may be our own. */
  private async writeUnique(entries: LedgerEntry[], retried: boolean): Promise<LedgerOutcome[]> {
    try {
      return await this.writeInOneStatement(entries, retried);
    } catch (err) {
      if (isDatabaseUnavailable(err)) throw err;
      return this.writeRowByRow(entries, retried);
    }
  }

  /**
   * The batch as one statement (writeBatchStatement); its raced ids — committed by a
   * concurrent batch after the statement's snapshot — go through writeUnique again, in a new
   * statement that can see them (row by row only if that one fails: the first statement has
   * committed, so its rows must keep the answer it gave them).
   */
  private async writeInOneStatement(entries: LedgerEntry[], retried: boolean): Promise<LedgerOutcome[]> {
    const first = await writeBatchStatement(this.database, entries, APPLY_DUE_MS);
    const raced = entries.filter((e) => first.raced.has(e.requestId));
    const again = new Map<string, LedgerOutcome>();
    if (raced.length > 0) {
      const outcomes = await this.writeUnique(raced, retried);
      raced.forEach((e, i) =>
        again.set(e.requestId, outcomes[i] ?? { kind: 'invalid', message: 'no outcome' }),
      );
    }
    return entries.map((entry) => {
      const outcome =
        again.get(entry.requestId) ??
        withXid(
          classify(entry, first.written, new Map(), first.existing, retried),
          first.written,
          first.xid,
          entry.requestId,
        );
      const promised = !again.has(entry.requestId) && promises(entry) && first.intent !== undefined;
      return promised ? { ...outcome, intent: first.intent } : outcome;
    });
  }

  /** A row the database refused sank its batch's transaction: retry each row in a savepoint. */
  private writeRowByRow(entries: LedgerEntry[], retried: boolean): Promise<LedgerOutcome[]> {
    return this.database.db.transaction(async (tx) => {
      const written = new Set<string>();
      const invalid = new Map<string, string>();
      let xid: string | undefined;
      for (const entry of entries) {
        try {
          const rows = await tx.transaction((sp) => insertEntriesWithXid(sp, [entry]));
          for (const id of rows.written) written.add(id);
          xid ??= rows.xid ?? undefined;
        } catch (rowErr) {
          if (isDatabaseUnavailable(rowErr)) throw rowErr;
          invalid.set(entry.requestId, this.refused(entry, rowErr));
        }
      }
      const outcomes = await this.outcomes(tx, entries, written, invalid, retried);
      return outcomes.map((o, i) => withXid(o, written, xid, entries[i]?.requestId));
    });
  }

  /** Logged here, once: the caller answers without the database's words (they may quote values). */
  private refused(entry: LedgerEntry, err: unknown): string {
    const reason = sqlState(err) ?? (err instanceof Error ? err.name : 'unknown error');
    this.logger.error(
      {
        err,
        table: 'usage_ledger',
        requestId: entry.requestId.slice(0, 128),
        userId: entry.userId.slice(0, 128),
      },
      'ledger row refused by PostgreSQL; the rest of its batch is written',
    );
    this.options.onRefused?.('usage_ledger', 1);
    return `refused: ${reason}`;
  }

  private async outcomes(
    tx: Executor,
    entries: LedgerEntry[],
    written: Set<string>,
    invalid: Map<string, string>,
    retried: boolean,
  ): Promise<LedgerOutcome[]> {
    const others = entries.filter((e) => !written.has(e.requestId) && !invalid.has(e.requestId));
    const existing = await recordedRows(tx, others);
    const outcomes = entries.map((entry) => classify(entry, written, invalid, existing, retried));
    // Settles this batch answers must still reach the counter store: promised durably here,
    // so a crash between this commit and the apply leaves a trace any instance completes
    // (the one-statement path does the same inside WRITE_BATCH).
    const promised = entries.map((e, i) => promises(e) && outcomes[i]?.kind !== 'invalid');
    const subjects = entries.filter((_, i) => promised[i]).map((e) => e.userId);
    if (subjects.length === 0) return outcomes;
    const intent = await insertApplyIntent(tx, subjects, APPLY_DUE_MS);
    return outcomes.map((o, i) => (promised[i] ? { ...o, intent } : o));
  }
}

/** A row this transaction wrote carries its xid; one found written by an earlier attempt does not. */
function withXid(
  outcome: LedgerOutcome,
  written: Set<string>,
  xid: string | undefined,
  requestId: string | undefined,
): LedgerOutcome {
  if (outcome.kind !== 'written' || xid === undefined || requestId === undefined) return outcome;
  return written.has(requestId) ? { ...outcome, xid } : outcome;
}

/** A settle the batch promises to apply (a dirty mark already stands for a marked one). */
const promises = (e: LedgerEntry) => e.status === 'settled' && !e.markDirty;

function classify(
  entry: LedgerEntry,
  written: Set<string>,
  invalid: Map<string, string>,
  existing: Map<string, StoredLedgerRow>,
  retried: boolean,
): LedgerOutcome {
  const message = invalid.get(entry.requestId);
  if (message !== undefined) return { kind: 'invalid', message };
  const row = existing.get(entry.requestId);
  if (written.has(entry.requestId) || !row) return { kind: 'written' };
  // A retry after an unknown COMMIT finds its own row: same cost, same settle instant.
  const ours =
    retried &&
    row.status === entry.status &&
    row.costMicros === entry.costMicros &&
    row.settledAt.getTime() === entry.settledAt.getTime();
  return ours ? { kind: 'written' } : { kind: 'exists', row };
}
