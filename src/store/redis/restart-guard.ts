import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { StoreMisconfiguredError } from '../store-errors.js';
import { gateClient, toStoreError } from './unavailable.js';

/**
 * A Redis that restarts with data from disk (an RDB snapshot, or an AOF written with
 * `appendfsync everysec`) brings back the warm flags of its subjects beside counters that
 * may miss the settles applied after the last write to disk: they would be trusted as
 * warm, and that spend forgotten until the window rolls on (SPEC §4.6: no settled spend is
 * ever lost). So after every (re)connection, before the store runs a script, the guard
 * compares the server's run id with the one stored at the last verification
 * (`<prefix>:run`, which a restart from disk brings back too). Another run id there, or
 * none, means the data may have come back from disk: every subject's warm flags are dropped
 * (SCAN + UNLINK), so each rebuilds from PostgreSQL on its next decision, and only then is
 * the new run id stored. Until it is done the store answers as unavailable, and FAIL_MODE
 * decides.
 * Several instances racing through it each drop the flags: more rebuilds, never a stale one.
 *
 * One server only: a Cluster's nodes must run without persistence (README, Redis Cluster).
 */
export class RestartGuard {
  /** Scripts may run: the server was verified since the connection last became ready. */
  private verified = false;
  private running: Promise<void> | null = null;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly logger: Logger,
    /** Another run id, or none: the data may be gone or older (rebuilds wait for the write-behind). */
    private readonly onLoss: () => void = () => undefined,
  ) {}

  /** Gates the store's round trips on the client; resolves once a connected server was checked. */
  start(): Promise<void> {
    gateClient(this.redis, () => this.verified);
    this.redis.on('close', this.onClose);
    this.redis.on('ready', this.onReady);
    return this.redis.status === 'ready' ? this.verify() : Promise.resolve();
  }

  stop(): void {
    clearTimeout(this.retry);
    this.redis.off('close', this.onClose);
    this.redis.off('ready', this.onReady);
  }

  private readonly onClose = () => {
    this.verified = false;
  };

  private readonly onReady = () => void this.verify();

  /** Checks the server now (again after a failure, while the connection stays up). */
  verify(): Promise<void> {
    this.running ??= this.verifyOnce()
      .then(() => {
        this.verified = true;
      })
      .catch((err: unknown) => {
        if (toStoreError(err) instanceof StoreMisconfiguredError) {
          // A refused check (an ACL without INFO, a Cluster node): the store's own calls
          // report what every command meets; the check itself is skipped.
          this.logger.warn({ err }, 'could not check Redis for a restart from disk; not checked');
          this.verified = true;
          return;
        }
        this.logger.warn({ err }, 'could not verify Redis after a connection; decisions follow FAIL_MODE');
        clearTimeout(this.retry);
        this.retry = setTimeout(() => {
          if (this.redis.status === 'ready' && !this.verified) void this.verify();
        }, 500);
        this.retry.unref();
      })
      .finally(() => (this.running = null));
    return this.running;
  }

  private async verifyOnce(): Promise<void> {
    const key = `${this.prefix}:run`;
    const runId = runIdOf(await this.redis.info('server'));
    const stored = await this.redis.get(key);
    // No run id at all is no proof either: a FLUSHALL drops it, and a snapshot taken after
    // that holds warm flags without one (an empty server costs one empty SCAN).
    if (stored === runId) return;
    this.onLoss();
    const dropped = await dropWarmFlags(this.redis, this.prefix);
    if (stored !== null)
      this.logger.error(
        { before: stored, runId, subjects: dropped },
        'Redis restarted with data from disk: every subject rebuilds from PostgreSQL (run Redis without persistence)',
      );
    else if (dropped > 0)
      this.logger.warn({ runId, subjects: dropped }, 'Redis held warm flags of no verified run: dropped');
    await this.redis.set(key, runId);
  }
}

/** The server's run id from INFO server (it changes on every start). */
export function runIdOf(info: string): string {
  return /run_id:(\w+)/.exec(info)?.[1] ?? '';
}

/** UNLINKs every subject's warm flags under the prefix; answers how many. */
async function dropWarmFlags(redis: Redis, prefix: string): Promise<number> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}:{*}:warm`;
  let dropped = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    if (keys.length > 0) dropped += await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  return dropped;
}
