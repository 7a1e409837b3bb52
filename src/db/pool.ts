import pg from 'pg';
import { isDatabaseUnavailable } from './errors.js';

type Release = (err?: Error | boolean) => void;

/**
 * A pg pool whose checked-out clients cannot leak. drizzle's transaction() sends BEGIN
 * before its try/finally, so a connection that dies at BEGIN is never released and
 * pool.end() then waits forever. Here a connection-level failure of any query hands the
 * client back as broken at once, and the later release (if any) is a no-op.
 */
export class GuardedPool extends pg.Pool {
  override connect(): Promise<pg.PoolClient>;
  override connect(
    callback: (err: Error | undefined, client: pg.PoolClient | undefined, done: Release) => void,
  ): void;
  override connect(
    callback?: (err: Error | undefined, client: pg.PoolClient | undefined, done: Release) => void,
  ): Promise<pg.PoolClient> | void {
    if (callback) return super.connect(callback);
    return super.connect().then(guard);
  }
}

/**
 * pg-pool hands the same client out again and again: it installs a fresh `release` on each
 * checkout but never touches `query`. So `release` is wrapped per checkout and `query` once
 * per client; wrapping `query` per checkout would nest one more layer (and one more
 * `.catch`) into every later query of that connection, without bound.
 */
const queryGuarded = new WeakSet<pg.PoolClient>();

function guard(client: pg.PoolClient): pg.PoolClient {
  let released = false;
  const release = client.release.bind(client) as Release;
  client.release = ((err?: Error | boolean) => {
    if (released) return;
    released = true;
    release(err);
  }) as pg.PoolClient['release'];
  if (queryGuarded.has(client)) return client;
  queryGuarded.add(client);
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  client.query = ((...args: unknown[]) => {
    const result = query(...args);
    if (result instanceof Promise) {
      result.catch((err: unknown) => {
        // The current checkout's release; a second call of it is a no-op.
        if (isDatabaseUnavailable(err)) client.release(err instanceof Error ? err : true);
      });
    }
    return result;
  }) as pg.PoolClient['query'];
  return client;
}
