import { Param, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { BatchTimer } from './batch-timer.js';

/**
 * This instance's open apply intents (one per ledger batch, see insertApplyIntent): how
 * many of the batch's settles still have to reach the counter store. An intent whose
 * applies all finished is deleted shortly after (batched); one that never finishes — the
 * process died, or its apply failed without leaving a dirty mark — stays in PostgreSQL
 * until a sweep turns it into dirty marks (DirtySweeper).
 */
export class ApplyIntents {
  private readonly pending = new Map<number, number>();
  private done: number[] = [];
  private readonly batches: BatchTimer;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    intervalMs = 200,
  ) {
    this.batches = new BatchTimer(() => this.deleteDone(), intervalMs);
  }

  /** A batch committed `count` settles under `intent`. */
  opened(intent: number, count: number): void {
    this.pending.set(intent, (this.pending.get(intent) ?? 0) + count);
  }

  /** One settle of `intent` reached the counter store (or left a dirty mark). */
  finished(intent: number): void {
    const left = (this.pending.get(intent) ?? 1) - 1;
    if (left > 0) {
      this.pending.set(intent, left);
      return;
    }
    this.pending.delete(intent);
    this.done.push(intent);
    this.schedule();
  }

  /** Deletes the finished intents now (graceful shutdown, tests). */
  flush(): Promise<void> {
    return this.batches.flush();
  }

  private schedule(): void {
    this.batches.schedule();
  }

  private async deleteDone(): Promise<void> {
    const ids = this.done.splice(0);
    if (ids.length === 0) return;
    try {
      await this.db.execute(sql`delete from apply_intents where id = any(${new Param(ids)}::bigint[])`);
    } catch (err) {
      // Harmless if it never happens: a leftover intent only costs its subjects a rebuild.
      this.logger.warn({ err, intents: ids.length }, 'finished apply intents not deleted; will retry');
      this.done.unshift(...ids);
      this.schedule();
    }
  }
}
