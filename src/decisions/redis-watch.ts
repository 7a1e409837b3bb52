import { randomUUID } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { isCluster, type RedisClient } from '../store/redis/client.js';
import { runIdOf } from '../store/redis/restart-guard.js';
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
  private masters = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  losses = 0;

  constructor(
    private readonly redis: RedisClient,
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
    if (isCluster(this.redis)) return this.checkMasters(this.redis);
    try {
      await this.redis.set(this.key, randomUUID(), 'NX');
      const [generation, info] = await Promise.all([this.redis.get(this.key), this.redis.info('server')]);
      const runId = runIdOf(info) || null;
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

  /**
   * A cluster: one generation key would watch one master only, so the masters' run ids are
   * compared instead. A master that failed over (its replica promoted) or restarted drops
   * out of the set; its slots may have lost their last writes (settles are covered by
   * WAIT, src/store/README.md), and their buckets rebuild once their warm flags are gone.
   */
  private async checkMasters(cluster: Cluster): Promise<void> {
    try {
      const infos = await Promise.all(cluster.nodes('master').map((node) => node.info('server')));
      const runIds = new Set(infos.map(runIdOf));
      const gone = [...this.masters].filter((id) => !runIds.has(id));
      if (gone.length > 0) {
        this.losses += 1;
        this.logger.warn({ gone, masters: [...runIds] }, 'a Redis Cluster master failed over or restarted');
      }
      this.masters = runIds;
    } catch {
      // A node unreachable mid-failover: the decision path applies FAIL_MODE; next tick.
    }
  }

  private changed(before: string | null, now: string | null): boolean {
    return before !== null && now !== null && before !== now;
  }
}
