export type StoreFailure = 'timeout' | 'unavailable';

/** The counter store (Redis) did not answer in time (`timeout`) or at all (`unavailable`). */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  readonly reason: StoreFailure;

  constructor(message: string, options: ErrorOptions & { reason?: StoreFailure } = {}) {
    super(message, options);
    this.reason = options.reason ?? 'unavailable';
  }
}
