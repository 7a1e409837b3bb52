import type { Logger } from 'pino';
import type { Db, Executor, Tx } from '../db/client.js';
import { isRowRefusal } from '../db/errors.js';
import { BatchTimer } from './batch-timer.js';
import { writeSettingAside } from './refused-rows.js';
import { firstUseWindows, sessionAdmissions } from '../db/schema.js';
import { insertReservations, type ReservationRow } from '../reservations/rows.js';

export interface AdmissionRow {
  bucketKey: string;
  ownerType: 'user' | 'key';
  ownerId: string;
  sessionId: string;
  requestId: string | null;
  admittedAt: Date;
  activeUntil: Date;
}

export interface FirstUseRow {
  bucketKey: string;
  startedAt: Date;
  lengthMs: number;
}

export type { ReservationRow } from '../reservations/rows.js';

/**
 * How long an answered admission may wait in an instance's buffer before it is committed
 * (the flush interval plus a commit under load). A rebuild waits this long after it found
 * a bucket cold, so it reads every admission answered before (SPEC §4.4).
 */
export const WRITE_BEHIND_SETTLE_MS = 250;

/** Rows kept at most while PostgreSQL is away; past it the oldest go (and are logged). */
const MAX_BUFFERED = 100_000;
/** First-use starts remembered as written (a window opens rarely; past this, forget all). */
const MAX_KNOWN_STARTS = 50_000;

/** A buffered row's table, for the log and the refused-rows metric. */
export type WriteBehindTable = 'session_admissions' | 'first_use_windows' | 'reservations';

interface Buffered {
  admissions: AdmissionRow[];
  starts: FirstUseRow[];
  reserved: ReservationRow[];
}

export interface WriteBehindOptions {
  intervalMs?: number;
  /** Told of rows PostgreSQL refused: set aside, logged once, never retried. */
  onRefused?: (table: WriteBehindTable, rows: number) => void;
}

/**
 * Reservations, session admissions and first-use window starts decided on the hot path
 * reach PostgreSQL shortly after the answer (/reserve makes no PostgreSQL query). Inserts
 * are idempotent, so a flush that failed for PostgreSQL's sake is simply retried with the
 * next one; a row whose values PostgreSQL refuses is set aside, so it never holds back the
 * rows of anyone else.
 */
export class WriteBehind {
  private buffered: Buffered = { admissions: [], starts: [], reserved: [] };
  /** bucket → the start already queued, so each window's start is written once. */
  private knownStarts = new Map<string, number>();
  private readonly batches: BatchTimer;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly options: WriteBehindOptions = {},
  ) {
    this.batches = new BatchTimer(() => this.writeOnce(), options.intervalMs ?? 50);
  }

  reservation(row: ReservationRow): void {
    this.buffered.reserved.push(row);
    this.schedule();
  }

  admitted(row: AdmissionRow): void {
    this.buffered.admissions.push(row);
    this.schedule();
  }

  /** False when this start was already queued (the window was open before). */
  firstUseOpened(row: FirstUseRow): boolean {
    const start = row.startedAt.getTime();
    if (this.knownStarts.get(row.bucketKey) === start) return false;
    if (this.knownStarts.size >= MAX_KNOWN_STARTS) this.knownStarts.clear();
    this.knownStarts.set(row.bucketKey, start);
    this.buffered.starts.push(row);
    this.schedule();
    return true;
  }

  /** Writes everything buffered (graceful shutdown, tests). */
  flush(): Promise<void> {
    return this.batches.flush();
  }

  private schedule(): void {
    this.batches.schedule();
  }

  private async writeOnce(): Promise<void> {
    const taken = this.buffered;
    this.buffered = { admissions: [], starts: [], reserved: [] };
    if (sizeOf(taken) === 0) return;
    try {
      await this.db.transaction((tx) => writeAll(tx, taken));
    } catch (err) {
      if (!isRowRefusal(err)) return this.retryLater(taken, err);
      // Some row's values are refused: find it, commit the rest.
      try {
        this.setAside(await this.db.transaction((tx) => writeAllSettingAside(tx, taken)));
      } catch (again) {
        this.retryLater(taken, again);
      }
    }
  }

  /** The counts only: the rows themselves (every buffered user's ids) never reach the log. */
  private retryLater(taken: Buffered, err: unknown): void {
    this.logger.warn(
      {
        err,
        admissions: taken.admissions.length,
        starts: taken.starts.length,
        reservations: taken.reserved.length,
      },
      'write-behind failed; will retry',
    );
    // Ahead of what arrived meanwhile (concat: a spread of 100,000 rows would overflow the stack).
    const b = this.buffered;
    this.buffered = {
      admissions: taken.admissions.concat(b.admissions),
      starts: taken.starts.concat(b.starts),
      reserved: taken.reserved.concat(b.reserved),
    };
    this.trim();
    this.schedule();
  }

  private setAside(refused: RefusedRow[]): void {
    for (const { table, ids, err } of refused) {
      this.logger.error(
        { err, table, ...ids },
        'write-behind row refused by PostgreSQL; set aside, not retried',
      );
      this.options.onRefused?.(table, 1);
    }
  }

  private trim(): void {
    const b = this.buffered;
    const excess = b.admissions.length + b.starts.length + b.reserved.length - MAX_BUFFERED;
    if (excess <= 0) return;
    this.logger.error({ dropped: excess }, 'write-behind buffer full; oldest admissions dropped');
    const fromReserved = Math.min(excess, b.reserved.length);
    b.reserved.splice(0, fromReserved);
    b.admissions.splice(0, excess - fromReserved);
  }
}

const sizeOf = (b: Buffered) => b.admissions.length + b.starts.length + b.reserved.length;

async function writeAll(tx: Executor, b: Buffered): Promise<void> {
  if (b.admissions.length > 0) await insertAdmissions(tx, b.admissions);
  if (b.starts.length > 0) await insertStarts(tx, b.starts);
  if (b.reserved.length > 0) await insertReservations(tx, b.reserved);
}

/** A refused row as the log may name it: its table and ids, never its other values. */
interface RefusedRow {
  table: WriteBehindTable;
  ids: Record<string, string | null>;
  err: unknown;
}

const LOGGED_ID_LENGTH = 128;
const loggable = (id: string | null) => (id === null ? null : id.slice(0, LOGGED_ID_LENGTH));
const admissionIds = (r: AdmissionRow) => ({
  bucketKey: loggable(r.bucketKey),
  sessionId: loggable(r.sessionId),
  requestId: loggable(r.requestId),
});

/** writeAll, each kind of row through writeSettingAside: the refused rows, the rest written. */
async function writeAllSettingAside(tx: Tx, b: Buffered): Promise<RefusedRow[]> {
  const admissions = await writeSettingAside(tx, b.admissions, insertAdmissions);
  const starts = await writeSettingAside(tx, b.starts, insertStarts);
  const reserved = await writeSettingAside(tx, b.reserved, insertReservations);
  return [
    ...admissions.map(({ row, err }) => ({
      table: 'session_admissions' as const,
      ids: admissionIds(row),
      err,
    })),
    ...starts.map(({ row, err }) => ({
      table: 'first_use_windows' as const,
      ids: { bucketKey: loggable(row.bucketKey) },
      err,
    })),
    ...reserved.map(({ row, err }) => ({
      table: 'reservations' as const,
      ids: { requestId: loggable(row.requestId), userId: loggable(row.userId) },
      err,
    })),
  ];
}

async function insertAdmissions(tx: Executor, rows: AdmissionRow[]): Promise<void> {
  await tx.insert(sessionAdmissions).values(rows).onConflictDoNothing();
}

async function insertStarts(tx: Executor, rows: FirstUseRow[]): Promise<void> {
  await tx.insert(firstUseWindows).values(rows).onConflictDoNothing();
}
