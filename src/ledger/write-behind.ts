import { Param, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db, Executor } from '../db/client.js';
import { BatchTimer } from './batch-timer.js';
import { firstUseWindows, sessionAdmissions } from '../db/schema.js';

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

export interface ReservationRow {
  requestId: string;
  userId: string;
  reservedAt: Date;
  expiresAt: Date;
  /** Display keys of the `requests` buckets it counted in. */
  buckets: string[];
  payload: string;
}

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

/**
 * Reservations, session admissions and first-use window starts decided on the hot path
 * reach PostgreSQL shortly after the answer (/reserve makes no PostgreSQL query). Inserts
 * are idempotent, so a failed flush is simply retried with the next one.
 */
export class WriteBehind {
  private admissions: AdmissionRow[] = [];
  private starts: FirstUseRow[] = [];
  private reserved: ReservationRow[] = [];
  private replayed: AdmissionRow[] = [];
  /** bucket → the start already queued, so each window's start is written once. */
  private knownStarts = new Map<string, number>();
  private readonly batches: BatchTimer;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    intervalMs = 50,
  ) {
    this.batches = new BatchTimer(() => this.writeOnce(), intervalMs);
  }

  reservation(row: ReservationRow): void {
    this.reserved.push(row);
    this.schedule();
  }

  /** An admission of a replayed reserve: written unless a live admission of the session is logged. */
  replayedAdmission(row: AdmissionRow): void {
    this.replayed.push(row);
    this.schedule();
  }

  admitted(row: AdmissionRow): void {
    this.admissions.push(row);
    this.schedule();
  }

  /** False when this start was already queued (the window was open before). */
  firstUseOpened(row: FirstUseRow): boolean {
    const start = row.startedAt.getTime();
    if (this.knownStarts.get(row.bucketKey) === start) return false;
    if (this.knownStarts.size >= MAX_KNOWN_STARTS) this.knownStarts.clear();
    this.knownStarts.set(row.bucketKey, start);
    this.starts.push(row);
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
    const admissions = this.admissions.splice(0);
    const starts = this.starts.splice(0);
    const reserved = this.reserved.splice(0);
    const replayed = this.replayed.splice(0);
    if (admissions.length + starts.length + reserved.length + replayed.length === 0) return;
    try {
      await this.db.transaction(async (tx) => {
        if (admissions.length > 0)
          await tx.insert(sessionAdmissions).values(admissions).onConflictDoNothing();
        if (starts.length > 0) await tx.insert(firstUseWindows).values(starts).onConflictDoNothing();
        if (reserved.length > 0) await insertReservations(tx, reserved);
        if (replayed.length > 0) await insertUnlessLive(tx, replayed);
      });
    } catch (err) {
      this.logger.warn(
        { err, admissions: admissions.length, starts: starts.length, reservations: reserved.length },
        'write-behind failed; will retry',
      );
      this.admissions.unshift(...admissions);
      this.starts.unshift(...starts);
      this.reserved.unshift(...reserved);
      this.replayed.unshift(...replayed);
      this.trim();
      this.schedule();
    }
  }

  private trim(): void {
    const excess = this.admissions.length + this.starts.length + this.reserved.length - MAX_BUFFERED;
    if (excess <= 0) return;
    this.logger.error({ dropped: excess }, 'write-behind buffer full; oldest admissions dropped');
    const fromReserved = Math.min(excess, this.reserved.length);
    this.reserved.splice(0, fromReserved);
    this.admissions.splice(0, excess - fromReserved);
  }
}

async function insertUnlessLive(tx: Executor, rows: AdmissionRow[]): Promise<void> {
  for (const r of rows) {
    await tx.execute(sql`
      insert into session_admissions (bucket_key, owner_type, owner_id, session_id, request_id, admitted_at, active_until)
      select ${r.bucketKey}, ${r.ownerType}, ${r.ownerId}, ${r.sessionId}, ${r.requestId},
        ${r.admittedAt.toISOString()}::timestamptz, ${r.activeUntil.toISOString()}::timestamptz
      where not exists (select 1 from session_admissions a where a.bucket_key = ${r.bucketKey}
        and a.session_id = ${r.sessionId} and a.active_until > ${r.admittedAt.toISOString()}::timestamptz
        and a.admitted_at <= ${r.admittedAt.toISOString()}::timestamptz)
      on conflict do nothing`);
  }
}

/**
 * A reservation the ledger already counts (settled or released before this flush) is not
 * written: its row would only be deleted again. A request id reused after its first
 * reservation keeps the first row (the ledger is the idempotency record).
 */
async function insertReservations(tx: Executor, rows: ReservationRow[]): Promise<void> {
  const column = <T>(pick: (r: ReservationRow) => T) => new Param(rows.map(pick));
  await tx.execute(sql`
    insert into reservations (request_id, user_id, reserved_at, expires_at, buckets, payload)
    select r.* from unnest(
      ${column((r) => r.requestId)}::text[], ${column((r) => r.userId)}::text[],
      ${column((r) => r.reservedAt.toISOString())}::timestamptz[],
      ${column((r) => r.expiresAt.toISOString())}::timestamptz[],
      ${column((r) => JSON.stringify(r.buckets))}::jsonb[], ${column((r) => r.payload)}::text[]
    ) as r(request_id, user_id, reserved_at, expires_at, buckets, payload)
    where not exists (select 1 from usage_ledger l where l.request_id = r.request_id)
    on conflict (request_id) do nothing`);
}
