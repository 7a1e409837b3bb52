import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
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

/** Rows kept at most while PostgreSQL is away; past it the oldest go (and are logged). */
const MAX_BUFFERED = 100_000;
/** First-use starts remembered as written (a window opens rarely; past this, forget all). */
const MAX_KNOWN_STARTS = 50_000;

/**
 * Session admissions and first-use window starts decided on the hot path reach PostgreSQL
 * shortly after the answer (/reserve makes no PostgreSQL query). Inserts are idempotent,
 * so a failed flush is simply retried with the next one.
 */
export class WriteBehind {
  private admissions: AdmissionRow[] = [];
  private starts: FirstUseRow[] = [];
  /** bucket → the start already queued, so each window's start is written once. */
  private knownStarts = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly intervalMs = 50,
  ) {}

  admitted(row: AdmissionRow): void {
    this.admissions.push(row);
    this.schedule();
  }

  firstUseOpened(row: FirstUseRow): void {
    const start = row.startedAt.getTime();
    if (this.knownStarts.get(row.bucketKey) === start) return;
    if (this.knownStarts.size >= MAX_KNOWN_STARTS) this.knownStarts.clear();
    this.knownStarts.set(row.bucketKey, start);
    this.starts.push(row);
    this.schedule();
  }

  /** Writes everything buffered (graceful shutdown, tests). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    this.flushing = this.writeOnce().finally(() => (this.flushing = null));
    await this.flushing;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush().catch(() => undefined);
    }, this.intervalMs);
    this.timer.unref();
  }

  private async writeOnce(): Promise<void> {
    const admissions = this.admissions.splice(0);
    const starts = this.starts.splice(0);
    if (admissions.length === 0 && starts.length === 0) return;
    try {
      await this.db.transaction(async (tx) => {
        if (admissions.length > 0)
          await tx.insert(sessionAdmissions).values(admissions).onConflictDoNothing();
        if (starts.length > 0) await tx.insert(firstUseWindows).values(starts).onConflictDoNothing();
      });
    } catch (err) {
      this.logger.warn(
        { err, admissions: admissions.length, starts: starts.length },
        'write-behind failed; will retry',
      );
      this.admissions.unshift(...admissions);
      this.starts.unshift(...starts);
      this.trim();
      this.schedule();
    }
  }

  private trim(): void {
    const excess = this.admissions.length + this.starts.length - MAX_BUFFERED;
    if (excess <= 0) return;
    this.logger.error({ dropped: excess }, 'write-behind buffer full; oldest admissions dropped');
    this.admissions.splice(0, excess);
  }
}
