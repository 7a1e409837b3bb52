import { randomUUID } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { isCluster, type RedisClient } from './client.js';
import { runIdOf } from './restart-guard.js';
import type { Logger } from 'pino';

/**
 * Notices when Redis lost its data (a generation marker created with SET NX disappeared
 * and was re-created) or restarted (its run id changed). Every bucket carries a warm flag
 * that vanishes with the data and forces a rebuild from PostgreSQL; operators are told,
 * the count is exported, and `onLoss` tells the rebuilds that admissions answered before
 * the loss may still be in flight to PostgreSQL (store-losses.ts).
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
    private readonly onLoss: () => void = () => undefined,
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
      if (this.changed(this.generation, generation) || this.changed(this.runId, runId))
        this.lost({ generation, runId });
      this.generation = generation;
      this.runId = runId;
    } catch {
      // Unreachable: the decision path applies FAIL_MODE; try again next tick.
    }
  }

  /**
   * Whether the generation marker is not the one this instance saw last (or it never saw
   * one): a FLUSHALL, which no reconnection reveals. One round trip, asked only when a
   * subject met cold has nothing in the store at all; on a Cluster it watches the marker's
   * master, which a FLUSHALL of every master empties too.
   */
  async generationChanged(): Promise<boolean> {
    const replies = await this.redis.pipeline().set(this.key, randomUUID(), 'NX').get(this.key).exec();
    const [setReply, getReply] = replies ?? [];
    if (!setReply || !getReply || setReply[0] || getReply[0]) return true;
    const generation = getReply[1] as string | null;
    const before = this.generation;
    if (generation === before) return false;
    this.generation = generation;
    if (this.changed(before, generation)) this.lost({ generation });
    return true;
  }

  private lost(context: Record<string, unknown>): void {
    this.losses += 1;
    this.onLoss();
    this.logger.warn(
      context,
      'Redis lost its data or restarted: buckets rebuild from PostgreSQL on their next use',
    );
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
        this.onLoss();
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
