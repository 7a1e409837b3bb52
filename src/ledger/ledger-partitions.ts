import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { rowsOf, type Db } from '../db/client.js';

const DAY_MS = 86_400_000;
/** Months created past the current one: a missed day or two never sends rows to DEFAULT. */
export const AHEAD_MONTHS = 2;

export interface PartitionChange {
  partitionName: string;
  /** false: DEFAULT already holds rows of that month, so it was skipped. */
  created: boolean;
}

/** Creates the ledger's monthly partitions around the clock's now (migrations/0006). */
export async function createAheadPartitions(
  db: Db,
  now: number,
  ahead = AHEAD_MONTHS,
): Promise<PartitionChange[]> {
  const result = await db.execute(
    sql`select partition_name, created from quotagate_ledger_partitions(${ahead}, ${new Date(now).toISOString()}::timestamptz)`,
  );
  return rowsOf<{ partition_name: string; created: boolean }>(result).map((r) => ({
    partitionName: r.partition_name,
    created: r.created,
  }));
}

/** Runs createAheadPartitions at start and once a day; a failure is logged and retried next day. */
export class PartitionMaintainer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;

  constructor(private readonly deps: { db: Db; clock: Clock; logger: Logger }) {}

  start(): void {
    void this.run();
    this.timer = setInterval(() => void this.run(), DAY_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  run(): Promise<void> {
    this.running ??= this.runOnce()
      .catch((err: unknown) => this.deps.logger.warn({ err }, 'ledger partition maintenance failed'))
      .finally(() => (this.running = null));
    return this.running;
  }

  private async runOnce(): Promise<void> {
    const changes = await createAheadPartitions(this.deps.db, this.deps.clock.now());
    const created = changes.filter((c) => c.created).map((c) => c.partitionName);
    const skipped = changes.filter((c) => !c.created).map((c) => c.partitionName);
    if (created.length > 0) this.deps.logger.info({ created }, 'ledger partitions created');
    if (skipped.length > 0)
      this.deps.logger.warn(
        { skipped },
        'ledger partitions not created: DEFAULT holds rows of these months (they stay correct there)',
      );
  }
}
