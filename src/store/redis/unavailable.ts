import { StoreMisconfiguredError, StoreUnavailableError } from '../store-errors.js';
import { isCluster, type RedisClient } from './client.js';
import { ScriptReplyError } from './replies.js';

/** Server replies that mean "not now": loading, a busy script, a failover under way. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|READONLY)\b/;
/**
 * A redirection means "not now" only to a cluster client: it follows MOVED and ASK itself,
 * so one that reaches us is a slot moving under it (a failover: a pipeline met the old
 * master, ioredis gave up after its redirections). To a single-server client it means it
 * speaks to a Cluster as if it were one server, and keeps meaning it.
 */
const REDIRECTION = /^(MOVED|ASK)\b/;

const isReplyError = (err: unknown): err is Error => err instanceof Error && err.name === 'ReplyError';

/**
 * What kind of reply it was, for one log line per kind: the server's error code, with the
 * generic `ERR` told apart by what operators fix differently.
 */
export function replyKind(message: string): string {
  const code = /^[A-Z]+/.exec(message)?.[0] ?? 'ERR';
  if (code !== 'ERR') return code;
  if (/user_script|Error running script/i.test(message)) return 'ERR script';
  if (/unknown (sub)?command/i.test(message)) return 'ERR unknown command';
  return code;
}

/**
 * Connection loss, the client's commandTimeout, no connection yet (no offline queue) and
 * transient server states become StoreUnavailableError, for FAIL_MODE to decide. Nothing is
 * resent: a timed-out script may still have run, and a second run would record twice.
 * Every other server reply (WRONGTYPE, MOVED, NOSCRIPT that survived the EVAL fallback,
 * NOPERM, script errors, unknown commands) becomes StoreMisconfiguredError.
 */
export function toStoreError(err: unknown, cluster = false): Error {
  if (
    err instanceof StoreUnavailableError ||
    err instanceof StoreMisconfiguredError ||
    err instanceof ScriptReplyError ||
    err instanceof TypeError
  )
    return err;
  const transient = (message: string) =>
    TRANSIENT_REPLY.test(message) || (cluster && REDIRECTION.test(message));
  if (isReplyError(err) && !transient(err.message)) {
    return new StoreMisconfiguredError(`counter store misconfigured: ${err.message}`, {
      cause: err,
      reply: replyKind(err.message),
    });
  }
  const detail = err instanceof Error ? err.message : String(err);
  // ioredis reports its commandTimeout only by this message; it becomes a typed reason here.
  const reason = /^Command timed out/.test(detail) ? 'timeout' : 'unavailable';
  return new StoreUnavailableError(`counter store unavailable: ${detail}`, { cause: err, reason });
}

const gates = new WeakMap<RedisClient, () => boolean>();

/** Round trips on this client wait until `open()` (restart-guard.ts: the server verified). */
export function gateClient(redis: RedisClient, open: () => boolean): void {
  gates.set(redis, open);
}

/**
 * Runs one Redis round trip on the client, mapping its failure; none while the client's
 * gate is shut (a restart guard verifying the server after a reconnection).
 */
export async function roundTrip<T>(redis: RedisClient, run: () => Promise<T>): Promise<T> {
  if (gates.get(redis)?.() === false)
    throw new StoreUnavailableError('counter store unavailable: Redis reconnected and is being verified');
  try {
    return await run();
  } catch (err) {
    throw toStoreError(err, isCluster(redis));
  }
}

/** A pipeline's results, each failure mapped; exec() resolving to null means the connection went away. */
export function pipelineResults(redis: RedisClient, results: [Error | null, unknown][] | null): unknown[] {
  if (results === null) throw new StoreUnavailableError('counter store unavailable: pipeline discarded');
  return results.map(([err, value]) => {
    if (err) throw toStoreError(err, isCluster(redis));
    return value;
  });
}
