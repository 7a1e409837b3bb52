import { Param, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { rowsOf, type Db } from '../db/client.js';
import type { CounterStore } from '../store/counter-store.js';
import { clearMark, oldestMarks, type DirtyMark } from '../ledger/dirty-marks.js';
import type { StoreHealth } from './store-health.js';

const BATCH = 500;
/** Batches one sweep takes at most, so a flood of marks cannot hold a sweep forever. */
const MAX_BATCHES = 20;

/**
 * Subjects whose counters may have missed a settle are marked dirty in PostgreSQL: settles
 * committed while Redis was unreachable (in their own transaction), and apply intents past
 * due (an instance died, or its store failed, between the ledger commit and the apply).
 * Every instance sweeps them: it forgets their warm buckets in the store, so the next
 * decision on them (on any instance) rebuilds from the ledger, then clears the mark unless
 * it was set again meanwhile. Marks are taken oldest first, so none waits behind others.
 */
export class DirtySweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;

  constructor(
    private readonly deps: {
      db: Db;
      store: CounterStore;
      logger: Logger;
      health: StoreHealth;
      /** Moves alerts a dead instance left in the store into the outbox. */
      drainAlerts: (subject: string) => Promise<void>;
    },
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
    await this.takeOverdueIntents();
    let swept = 0;
    for (let batch = 0; batch < MAX_BATCHES; batch++) {
      const marks = await oldestMarks(this.deps.db, BATCH);
      for (const mark of marks) await this.clear(mark);
      swept += marks.length;
      if (marks.length < BATCH) break;
    }
    if (swept > 0) this.deps.logger.info({ subjects: swept }, 'dirty subjects will rebuild from the ledger');
  }

  /**
   * Overdue apply intents become dirty marks of their subjects. Their subjects' alerts left
   * in the store go to the outbox first: the intent is the only trace of who may have some.
   */
  private async takeOverdueIntents(): Promise<void> {
    const result = await this.deps.db.execute(sql`
      select id, subjects from apply_intents where due_at <= now() order by due_at limit ${BATCH}`);
    const overdue = rowsOf<{ id: string | number; subjects: string[] }>(result);
    if (overdue.length === 0) return;
    for (const subject of new Set(overdue.flatMap((i) => i.subjects))) await this.deps.drainAlerts(subject);
    await this.deps.db.execute(sql`
      with overdue as (
        delete from apply_intents where id = any(${new Param(overdue.map((i) => Number(i.id)))}::bigint[])
        returning subjects)
      insert into dirty_subjects (subject)
      select distinct jsonb_array_elements_text(subjects) from overdue
      on conflict (subject) do update set marked_at = clock_timestamp()`);
  }

  /**
   * The warm flags go first: a mark is only cleared once the store has forgotten them, for
   * good — while no replica acknowledged it, a failover could bring them back beside
   * counters that miss the settle the mark stands for, so the mark waits for the next sweep.
   */
  private async clear(mark: DirtyMark): Promise<void> {
    // The mark's value names the generation: a sweep repeated while no replica acknowledged
    // it then spares the rebuilds begun since its first try (they read the settle).
    const { unreplicated } = await this.deps.store.markCold(mark.subject, mark.markedAt);
    if (!unreplicated) await clearMark(this.deps.db, mark);
  }
}
