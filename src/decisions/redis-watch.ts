import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Notices when Redis lost its data (a generation marker created with SET NX disappeared
 * and was re-created) or restarted (its run id changed). Correctness does not depend on
 * it — every bucket carries a warm flag that vanishes with the data and forces a rebuild
 * from PostgreSQL — but operators are told, and the count is exported.
 */
export class RedisWatch {
  private generation: string | null = null;
  private runId: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  losses = 0;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly logger: Logger,
    private readonly intervalMs = 5_000,
  ) {}

  /** Checks now, on every tick, and on every (re)connection: a restart is seen as Redis returns. */
  start(): void {
    void this.check();
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
    this.redis.on('ready', this.onReady);
  }

  stop(): void {
    clearInterval(this.timer);
    this.redis.off('ready', this.onReady);
  }

  private readonly onReady = () => void this.check();

  async check(): Promise<void> {
    try {
      await this.redis.set(this.key, randomUUID(), 'NX');
      const [generation, info] = await Promise.all([this.redis.get(this.key), this.redis.info('server')]);
      const runId = /run_id:(\w+)/.exec(info)?.[1] ?? null;
      if (this.changed(this.generation, generation) || this.changed(this.runId, runId)) {
        this.losses += 1;
        this.logger.warn(
          { generation, runId },
          'Redis lost its data or restarted: buckets rebuild from PostgreSQL on their next use',
        );
      }
      this.generation = generation;
      this.runId = runId;
    } catch {
      // Unreachable: the decision path applies FAIL_MODE; try again next tick.
    }
  }

  private changed(before: string | null, now: string | null): boolean {
    return before !== null && now !== null && before !== now;
  }
}
