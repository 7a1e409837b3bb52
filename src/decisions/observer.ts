import type { Metrics } from '../ops/metrics.js';
import type { OpenHolds } from '../ops/open-holds.js';
import type { StoreFailure } from '../store/store-errors.js';

/**
 * Why a rebuild waited for the write-behind (warm.ts): a loss of Redis data detected lately,
 * a dirty mark's forgetting, or a cold bucket of a subject the store still knows.
 */
export type RebuildWait = 'loss' | 'mark' | 'known_subject';

/** What the data plane reports as it works; metrics, in production. */
export interface DataPlaneObserver {
  storeError(store: 'redis' | 'postgres', reason: StoreFailure): void;
  failOpen(): void;
  /** A decision that shadow buckets would have refused (SPEC §4.8). */
  shadowRefused(endpoint: 'check' | 'reserve' | 'authz'): void;
  /** Cold buckets of a subject that had state somewhere, read back from PostgreSQL. */
  rebuilt(buckets: number): void;
  /** A subject met cold with nothing in the store or in PostgreSQL: seeded empty, no rebuild. */
  newSubject(): void;
  rebuildWaited(reason: RebuildWait): void;
  holdOpened(requestId: string, expiresAt: number): void;
  holdClosed(requestId: string): void;
}

export function metricsObserver(metrics: Metrics, holds: OpenHolds): DataPlaneObserver {
  return {
    storeError: (store, reason) => metrics.storeErrors.inc({ store, reason }),
    failOpen: () => metrics.failOpen.inc(),
    shadowRefused: (endpoint) => metrics.shadowRefusals.inc({ endpoint: `/${endpoint}` }),
    rebuilt: (buckets) => metrics.rebuilds.inc(buckets),
    newSubject: () => metrics.newSubjects.inc(),
    rebuildWaited: (reason) => metrics.rebuildWaits.inc({ reason }),
    holdOpened: (requestId, expiresAt) => holds.opened(requestId, expiresAt),
    holdClosed: (requestId) => holds.closed(requestId),
  };
}
