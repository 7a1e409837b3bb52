/** The counter store (Redis) did not answer in time or at all. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}
