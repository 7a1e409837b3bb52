import { and, eq, lte } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { dirtySubjects } from '../db/schema.js';
import type { CounterStore } from '../store/counter-store.js';
import type { StoreHealth } from './store-health.js';

const BATCH = 500;

/**
 * Subjects whose settles committed while Redis was unreachable are marked dirty in
 * PostgreSQL. Every instance sweeps them: it forgets their warm buckets in the store, so
 * the next decision on them (on any instance) rebuilds from the ledger, then clears the
 * mark — unless it was set again meanwhile.
 */
export class DirtySweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;

  constructor(
    private readonly deps: { db: Db; store: CounterStore; logger: Logger; health: StoreHealth },
    private readonly intervalMs: number,
  ) {
    deps.health.onRecovered(() => void this.sweep());
  }

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  sweep(): Promise<void> {
    this.running ??= this.sweepOnce()
      .catch((err: unknown) => this.deps.logger.warn({ err }, 'dirty subject sweep failed; will retry'))
      .finally(() => (this.running = null));
    return this.running;
  }

  private async sweepOnce(): Promise<void> {
    const { db, store } = this.deps;
    const rows = await db.select().from(dirtySubjects).limit(BATCH);
    for (const row of rows) {
      await store.markCold(row.subject);
      await db
        .delete(dirtySubjects)
        .where(and(eq(dirtySubjects.subject, row.subject), lte(dirtySubjects.markedAt, row.markedAt)));
    }
    if (rows.length > 0)
      this.deps.logger.info({ subjects: rows.length }, 'dirty subjects will rebuild from the ledger');
  }
}
