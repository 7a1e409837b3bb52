import { setTimeout as sleep } from 'node:timers/promises';
import { isCluster, type RedisClient } from '../store/redis/client.js';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Db } from '../db/client.js';
import { loadSnapshotRows, readConfigVersion } from './load.js';
import { buildSnapshot, emptySnapshot, type ConfigSnapshot } from './snapshot.js';

/** How long a start waits for the SUBSCRIBE to be answered before it serves on polling alone. */
const SUBSCRIBE_WAIT_MS = 2_000;

const delay = <T>(ms: number, value: T) => sleep(ms, value, { ref: false });

export interface ConfigSyncOptions {
  db: Db;
  clock: Clock;
  logger: Logger;
  pollSeconds: number;
  /** A Redis connection to duplicate for pub/sub; null: polling alone (embedded mode). */
  redis: RedisClient | null;
  channel: string;
}

/**
 * Keeps this instance's config snapshot current. Admin writes publish the new version on a
 * Redis channel after commit; pub/sub can lose messages, so every instance also polls the
 * version. Reloads are serialized and swap the snapshot reference atomically.
 */
export class ConfigSync {
  private snapshot: ConfigSnapshot = emptySnapshot();
  private reloading: Promise<void> | null = null;
  private reloadAgain = false;
  private subscriber: RedisClient | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: ConfigSyncOptions) {}

  current(): ConfigSnapshot {
    return this.snapshot;
  }

  get loaded(): boolean {
    return this.snapshot.version >= 0;
  }

  async start(): Promise<void> {
    await this.reload();
    const { redis, channel, pollSeconds } = this.options;
    if (redis) await this.subscribe(redis, channel);
    this.timer = setInterval(() => void this.poll(), pollSeconds * 1000);
    this.timer.unref();
  }

  /**
   * With Redis up, returns once subscribed. With Redis down it returns at once: the
   * SUBSCRIBE waits in the offline queue for the connection the client keeps retrying
   * (ioredis resubscribes after every reconnect), and polling serves meanwhile.
   */
  private async subscribe(redis: RedisClient, channel: string): Promise<void> {
    // In a cluster, PUBLISH reaches every node, so one subscription on any node hears it
    // (ioredis' cluster subscriber is a connection of its own, without a command timeout).
    // No commandTimeout here: ioredis resubscribes after a reconnect without a handler, so a
    // SUBSCRIBE answered later than STORE_TIMEOUT_MS would be an unhandled rejection, which
    // ends a Node process. A subscription waits for its answer; polling covers the wait.
    const subscriber = isCluster(redis)
      ? redis.duplicate([], { lazyConnect: true, enableOfflineQueue: true })
      : redis.duplicate({
          lazyConnect: true,
          enableOfflineQueue: true,
          maxRetriesPerRequest: null,
          commandTimeout: undefined,
        });
    this.subscriber = subscriber;
    subscriber.on('message', (_channel: string, message: string) => this.onAnnounced(Number(message)));
    subscriber.on('error', () => undefined);
    const connected = await subscriber.connect().then(
      () => true,
      () => false,
    );
    const subscribed = subscriber.subscribe(channel).then(
      () => true,
      (err: unknown) => {
        if (!this.stopped) this.options.logger.warn({ err }, 'config channel subscribe failed');
        return false;
      },
    );
    const answered = connected && (await Promise.race([subscribed, delay(SUBSCRIBE_WAIT_MS, false)]));
    if (!answered)
      this.options.logger.warn({ channel }, 'config channel unreachable; polling until Redis answers');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.subscriber?.disconnect();
    await this.reloading?.catch(() => undefined);
  }

  /** Announces a committed version to the other instances; loss is covered by polling. */
  async publish(version: number): Promise<void> {
    const { redis, channel, logger } = this.options;
    if (!redis) return;
    await redis.publish(channel, String(version)).catch((err: unknown) => {
      logger.warn({ err }, 'config version publish failed; other instances will poll it');
    });
  }

  /** Returns once this instance serves `version` or later (read-your-writes). */
  async reloadAtLeast(version: number): Promise<void> {
    while (this.snapshot.version < version && !this.stopped) await this.reload();
  }

  /** Serialized: a reload asked for while one runs triggers exactly one more after it. */
  reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = this.loadOnce().finally(() => {
      this.reloading = null;
      if (this.reloadAgain && !this.stopped) {
        this.reloadAgain = false;
        void this.reload().catch(() => undefined);
      }
    });
    return this.reloading;
  }

  private async loadOnce(): Promise<void> {
    const rows = await loadSnapshotRows(this.options.db);
    if (rows.version >= this.snapshot.version) this.snapshot = buildSnapshot(rows, this.options.clock.now());
  }

  private onAnnounced(version: number): void {
    if (Number.isFinite(version) && version > this.snapshot.version) void this.reloadLogged();
  }

  private async poll(): Promise<void> {
    try {
      if ((await readConfigVersion(this.options.db)) > this.snapshot.version) await this.reload();
    } catch (err) {
      this.options.logger.warn({ err }, 'config version poll failed');
    }
  }

  private async reloadLogged(): Promise<void> {
    await this.reload().catch((err: unknown) => this.options.logger.warn({ err }, 'config reload failed'));
  }
}
