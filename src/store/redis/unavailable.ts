import { StoreUnavailableError } from '../store-errors.js';
import { ScriptReplyError } from './replies.js';

/** Server replies that mean "not now" rather than "your script is wrong". */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|READONLY|MOVED|ASK)\b/;

/**
 * Connection loss, the client's commandTimeout, no connection yet (no offline queue) and
 * transient server states become StoreUnavailableError, for FAIL_MODE to decide. Nothing is
 * resent: a timed-out script may still have run, and a second run would record twice.
 * Other server errors are bugs and surface as they are.
 */
export function toStoreError(err: unknown): Error {
  if (err instanceof StoreUnavailableError || err instanceof ScriptReplyError || err instanceof TypeError)
    return err;
  if (err instanceof Error && err.name === 'ReplyError' && !TRANSIENT_REPLY.test(err.message)) return err;
  const detail = err instanceof Error ? err.message : String(err);
  // ioredis reports its commandTimeout only by this message; it becomes a typed reason here.
  const reason = /^Command timed out/.test(detail) ? 'timeout' : 'unavailable';
  return new StoreUnavailableError(`counter store unavailable: ${detail}`, { cause: err, reason });
}

/** Runs one Redis round trip, mapping its failure. */
export async function roundTrip<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw toStoreError(err);
  }
}

/** A pipeline's results, each failure mapped; exec() resolving to null means the connection went away. */
export function pipelineResults(results: [Error | null, unknown][] | null): unknown[] {
  if (results === null) throw new StoreUnavailableError('counter store unavailable: pipeline discarded');
  return results.map(([err, value]) => {
    if (err) throw toStoreError(err);
    return value;
  });
}
