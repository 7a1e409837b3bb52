import type { Db } from '../db/client.js';
import { rebuildSeed, type SettleExclusion } from '../ledger/rebuild.js';
import type { ColdOutcome, CounterStore, StoreBucket } from '../store/counter-store.js';
import { StoreUnavailableError } from '../store/store-errors.js';

/**
 * A rebuild that keeps finding the buckets cold (a sweep forgetting them each time, a storm,
 * a bug) stops rather than loops, as a store that cannot answer now: FAIL_MODE decides, a
 * settle leaves a dirty mark.
 */
const MAX_REBUILDS = 3;

export interface WarmDeps {
  store: CounterStore;
  db: Db;
  observer: { rebuilt(buckets: number): void };
  /**
   * Resolves once every admission any instance answered before it was called is in
   * PostgreSQL (this instance's buffer flushed, the others' given time to flush).
   */
  writeBehindSettled(): Promise<void>;
  /** This instance's rebuilds in flight, shared by concurrent cold decisions of one subject. */
  rebuilds: RebuildFlights;
}

/**
 * After a loss of Redis data every request of a busy subject meets the same cold buckets at
 * once; each rebuilding them would send PostgreSQL one identical read per request (a herd
 * that queues on the pool and blows the gateway's timeout) and wait out the write-behind
 * each. Concurrent rebuilds of one subject, bucket set and exclusion share one: the seed
 * is set-if-absent, so a decision that retries after a rebuild it joined sees what it would
 * have after its own.
 */
export class RebuildFlights {
  private readonly flights = new Map<string, Promise<void>>();

  run(key: string, rebuild: () => Promise<void>): Promise<void> {
    const inFlight = this.flights.get(key);
    if (inFlight) return inFlight;
    const flight = rebuild().finally(() => this.flights.delete(key));
    this.flights.set(key, flight);
    return flight;
  }
}

const flightKey = (
  subject: string,
  cold: readonly StoreBucket[],
  generation: string,
  exclude: SettleExclusion | null,
) => [subject, generation, exclude?.requestId ?? '', ...cold.map((b) => b.id).sort()].join('\u0000');

/** Buckets whose rebuild reads rows written behind the answer: reservations, sessions, first-use starts. */
const fedByWriteBehind = (b: StoreBucket) =>
  b.metric === 'requests' || b.metric === 'sessions' || b.counting.mode === 'first_use';

/**
 * Runs a store operation; when it reports cold buckets, rebuilds them from PostgreSQL,
 * seeds them (set-if-absent) and runs it again. Warm subjects make no PostgreSQL query.
 * A cold bucket records nothing, so what the rebuild reads after the write-behind settled
 * is everything answered before: no acknowledged admission is forgotten (SPEC §4.4).
 */
export async function withWarmBuckets<T extends { kind: string }>(
  deps: WarmDeps,
  subject: string,
  buckets: readonly StoreBucket[],
  now: number,
  operation: () => Promise<T | ColdOutcome>,
  exclude: SettleExclusion | null = null,
): Promise<Exclude<T, ColdOutcome>> {
  for (let attempt = 0; ; attempt++) {
    const outcome = await operation();
    if (outcome.kind !== 'cold') return outcome as Exclude<T, ColdOutcome>;
    if (attempt >= MAX_REBUILDS)
      throw new StoreUnavailableError(
        `counter store unavailable: buckets of ${subject} stayed cold after ${MAX_REBUILDS} rebuilds`,
      );
    const { generation, buckets: coldIds } = outcome as ColdOutcome;
    const cold = buckets.filter((b) => coldIds.includes(b.id));
    // A seed the store refuses (a markCold came after this answer) leaves them cold: the
    // next turn reads the ledger again, after the settle that markCold stands for.
    await deps.rebuilds.run(flightKey(subject, cold, generation, exclude), async () => {
      if (cold.some(fedByWriteBehind)) await deps.writeBehindSettled();
      deps.observer.rebuilt(cold.length);
      const seed = await rebuildSeed(deps.db, subject, cold, now, exclude);
      await deps.store.seed({ ...seed, generation });
    });
  }
}
