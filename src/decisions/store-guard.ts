import type { Logger } from 'pino';
import { AppError, storeMisconfigured } from '../domain/errors.js';
import { StoreMisconfiguredError, StoreUnavailableError } from '../store/store-errors.js';
import type { DataPlaneObserver } from './observer.js';
import type { StoreHealth } from '../recovery/store-health.js';

export interface StoreGuardDeps {
  health: StoreHealth;
  observer: Pick<DataPlaneObserver, 'storeError'>;
  logger: Pick<Logger, 'error'>;
}

/** How a caller answers a failing store instead of the default problems. */
export interface StoreFailureAnswers<T> {
  /** Ends "the counter store is unreachable; retry the …" of the default 503 store_unavailable. */
  retry?: string;
  /** Replaces the 503 store_unavailable (a fail-open answer, a dirty mark, …). */
  unavailable?: (err: StoreUnavailableError) => T | Promise<T>;
  /** Replaces the 503 store_misconfigured (a settle already committed marks its subject dirty). */
  misconfigured?: (err: StoreMisconfiguredError) => T | Promise<T>;
}

export type StoreGuard = <T>(run: () => Promise<T>, answers?: StoreFailureAnswers<T>) => Promise<T>;

/**
 * Every counter store call of the data plane goes through one guard, so /readyz and the
 * metrics learn of every failure whatever endpoint met it: a success marks the store up; an
 * unreachable store marks it down and counts `quotagate_store_errors_total`; a
 * misconfigured one is kept for /readyz (logged loudly) and counted. Other errors pass.
 */
export function storeGuard(deps: StoreGuardDeps): StoreGuard {
  return async <T>(run: () => Promise<T>, answers: StoreFailureAnswers<T> = {}): Promise<T> => {
    try {
      const result = await run();
      deps.health.markUp();
      return result;
    } catch (err) {
      if (err instanceof StoreMisconfiguredError) {
        deps.health.recordMisconfigured(err, deps.logger);
        deps.observer.storeError('redis', err.reason);
        if (answers.misconfigured) return answers.misconfigured(err);
        throw storeMisconfigured();
      }
      if (!(err instanceof StoreUnavailableError)) throw err;
      deps.health.markDown();
      deps.observer.storeError('redis', err.reason);
      if (answers.unavailable) return answers.unavailable(err);
      const retry = answers.retry ? `; retry the ${answers.retry}` : '';
      throw new AppError('store_unavailable', `the counter store is unreachable${retry}`);
    }
  };
}
