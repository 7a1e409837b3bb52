/** Why the counter store could not be used: not in time, not at all, or not as configured. */
export type StoreFailure = 'timeout' | 'unavailable' | 'misconfigured';
export type Unreachable = Exclude<StoreFailure, 'misconfigured'>;

/** The counter store (Redis) did not answer in time (`timeout`) or at all (`unavailable`). */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  readonly reason: Unreachable;

  constructor(message: string, options: ErrorOptions & { reason?: Unreachable } = {}) {
    super(message, options);
    this.reason = options.reason ?? 'unavailable';
  }
}

/**
 * The counter store answered, but not as the server quotagate needs (a cluster redirection,
 * a key of another type, a script or permission error, a missing command). Retrying cannot
 * help, and admitting without the store would hide the fault: it is never a fail-open.
 */
export class StoreMisconfiguredError extends Error {
  override name = 'StoreMisconfiguredError';
  readonly reason = 'misconfigured';
  /** The kind of reply (`MOVED`, `WRONGTYPE`, `ERR script`, …): what a log line is kept per. */
  readonly reply: string;

  constructor(message: string, options: ErrorOptions & { reply: string }) {
    super(message, options);
    this.reply = options.reply;
  }
}
