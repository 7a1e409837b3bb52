import type { Metrics } from '../ops/metrics.js';
import type { OpenHolds } from '../ops/open-holds.js';
import type { StoreFailure } from '../store/store-errors.js';

/** What the data plane reports as it works; metrics, in production. */
export interface DataPlaneObserver {
  storeError(store: 'redis' | 'postgres', reason: StoreFailure): void;
  failOpen(): void;
  /** A decision that shadow buckets would have refused (SPEC §4.8). */
  shadowRefused(endpoint: 'check' | 'reserve' | 'authz'): void;
  rebuilt(buckets: number): void;
  holdOpened(requestId: string, expiresAt: number): void;
  holdClosed(requestId: string): void;
}

export function metricsObserver(metrics: Metrics, holds: OpenHolds): DataPlaneObserver {
  return {
    storeError: (store, reason) => metrics.storeErrors.inc({ store, reason }),
    failOpen: () => metrics.failOpen.inc(),
    shadowRefused: (endpoint) => metrics.shadowRefusals.inc({ endpoint: `/${endpoint}` }),
    rebuilt: (buckets) => metrics.rebuilds.inc(buckets),
    holdOpened: (requestId, expiresAt) => holds.opened(requestId, expiresAt),
    holdClosed: (requestId) => holds.closed(requestId),
  };
}
