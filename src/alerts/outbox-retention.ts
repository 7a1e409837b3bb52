import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { rowsOf, type Executor } from '../db/client.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Rows per DELETE: short statements, so a prune never holds many locks or one long transaction. */
const BATCH_SIZE = 1_000;
/** Batches per kind and run; a larger backlog is finished by the next runs. */
const MAX_BATCHES = 500;

export interface PruneResult {
  deliveries: number;
  events: number;
}

/** One batch of finished deliveries created before `cutoff`, above `afterId`; the last id deleted. */
async function deleteDeliveries(db: Executor, cutoff: string, afterId: number, limit: number) {
  const result = await db.execute(sql`
    with doomed as (
      select id from webhook_deliveries
      where id > ${afterId} and status in ('delivered', 'failed') and created_at < ${cutoff}::timestamptz
      order by id
      limit ${limit}
      for update skip locked),
    gone as (delete from webhook_deliveries d using doomed where d.id = doomed.id returning d.id)
    select count(*)::int as n, coalesce(max(id), 0)::float8 as last from gone`);
  const [row] = rowsOf<{ n: number; last: number }>(result);
  return { deleted: row?.n ?? 0, lastId: row?.last ?? afterId };
}

/** One batch of events created before `cutoff` with no delivery left (a pending one keeps its event). */
async function deleteEvents(db: Executor, cutoff: string, limit: number): Promise<number> {
  const result = await db.execute(sql`
    with doomed as (
      select e.id from webhook_events e
      where e.created_at < ${cutoff}::timestamptz
        and not exists (select 1 from webhook_deliveries d where d.event_id = e.id)
      limit ${limit}
      for update of e skip locked),
    gone as (delete from webhook_events e using doomed where e.id = doomed.id returning 1)
    select count(*)::int as n from gone`);
  return rowsOf<{ n: number }>(result)[0]?.n ?? 0;
}

/**
 * Deletes delivered and failed deliveries, then events without deliveries, created more
 * than `retentionMs` before `now` — in batches of `batchSize`, never a pending delivery.
 * `keepGoing` is asked between batches (a stopping instance leaves the rest to the next run).
 */
export async function pruneOutbox(
  db: Executor,
  now: number,
  retentionMs: number,
  options: { batchSize?: number; maxBatches?: number; keepGoing?: () => boolean } = {},
): Promise<PruneResult> {
  const { batchSize = BATCH_SIZE, maxBatches = MAX_BATCHES, keepGoing = () => true } = options;
  const cutoff = new Date(now - retentionMs).toISOString();
  const pruned: PruneResult = { deliveries: 0, events: 0 };
  let afterId = 0;
  for (let i = 0; i < maxBatches && keepGoing(); i++) {
    const batch = await deleteDeliveries(db, cutoff, afterId, batchSize);
    pruned.deliveries += batch.deleted;
    afterId = batch.lastId;
    if (batch.deleted < batchSize) break;
  }
  for (let i = 0; i < maxBatches && keepGoing(); i++) {
    const deleted = await deleteEvents(db, cutoff, batchSize);
    pruned.events += deleted;
    if (deleted < batchSize) break;
  }
  return pruned;
}

export interface OutboxPrunerOptions {
  db: Executor;
  clock: Clock;
  logger: Logger;
  /** WEBHOOK_RETENTION_DAYS */
  retentionDays: number;
  everyMs?: number;
}

/** Runs pruneOutbox at start and hourly; a failure is logged and the next run tries again. */
export class OutboxPruner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private stopped = true;

  constructor(private readonly options: OutboxPrunerOptions) {}

  start(): void {
    this.stopped = false;
    void this.run();
    this.timer = setInterval(() => void this.run(), this.options.everyMs ?? HOUR_MS);
    this.timer.unref();
  }

  /** Stops between batches and waits for the statement in flight (before the database closes). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  run(): Promise<void> {
    this.running ??= this.runOnce()
      .catch((err: unknown) => this.options.logger.warn({ err }, 'webhook outbox pruning failed'))
      .finally(() => (this.running = null));
    return this.running;
  }

  private async runOnce(): Promise<void> {
    const { db, clock, logger, retentionDays } = this.options;
    const pruned = await pruneOutbox(db, clock.now(), retentionDays * DAY_MS, {
      keepGoing: () => !this.stopped,
    });
    if (pruned.deliveries + pruned.events > 0)
      logger.info({ ...pruned, retentionDays }, 'webhook outbox pruned');
  }
}
