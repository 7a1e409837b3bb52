import type { Db } from '../db/client.js';
import { hasHistory } from '../ledger/bucket-history.js';
import { rebuildSeed, type SettleExclusion } from '../ledger/rebuild.js';
import type { ColdOutcome, CounterStore, StoreBucket, SubjectSeed } from '../store/counter-store.js';
import { StoreUnavailableError } from '../store/store-errors.js';
import type { DataPlaneObserver, RebuildWait } from './observer.js';

/**
 * A rebuild that keeps finding the buckets cold (a sweep forgetting them each time, a storm,
 * a bug) stops rather than loops, as a store that cannot answer now: FAIL_MODE decides, a
 * settle leaves a dirty mark.
 */
const MAX_REBUILDS = 3;

export interface WarmDeps {
  store: CounterStore;
  db: Db;
  observer: Pick<DataPlaneObserver, 'rebuilt' | 'newSubject' | 'rebuildWaited'>;
  /**
   * Resolves once every admission any instance answered before it was called is in
   * PostgreSQL (this instance's buffer flushed, the others' given time to flush).
   */
  writeBehindSettled(): Promise<void>;
  /**
   * Whether admissions answered before a loss of the store's data may still be on their way
   * to PostgreSQL (store-losses.ts): asked only for a subject the store holds nothing of.
   */
  lossInFlight(): Promise<boolean>;
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
 * Why a rebuild must first wait for the write-behind, or null. Rows written behind can be
 * missing from PostgreSQL only for a bucket whose state the store had and lost within
 * WRITE_BEHIND_SETTLE_MS: forgotten by a markCold (a dirty mark: the generation names it),
 * lost beside warm buckets of the subject (a new window definition, a promoted replica), or
 * lost with everything (`fresh`), which a new subject looks like too; that last case waits
 * only while a loss of the store's data is recent, so new subjects do not wait.
 */
async function waitReason(deps: WarmDeps, cold: readonly StoreBucket[], outcome: ColdOutcome) {
  if (!cold.some(fedByWriteBehind)) return null;
  if (outcome.generation !== '') return 'mark' satisfies RebuildWait;
  if (!outcome.fresh) return 'known_subject' satisfies RebuildWait;
  return (await deps.lossInFlight()) ? ('loss' satisfies RebuildWait) : null;
}

/** Buckets of nothing: what a rebuild would read for a subject PostgreSQL has no row of. */
const emptySeed = (
  subject: string,
  cold: readonly StoreBucket[],
  now: number,
): Omit<SubjectSeed, 'generation'> => ({
  subject,
  now,
  buckets: cold.map((bucket) => ({ bucket, usage: [], sessions: [], firstUseStart: null })),
  watermark: null,
});

/** Reads the cold buckets from PostgreSQL (after the write-behind, where it must) and seeds them. */
async function rebuild(
  deps: WarmDeps,
  subject: string,
  cold: readonly StoreBucket[],
  outcome: ColdOutcome,
  now: number,
  exclude: SettleExclusion | null,
): Promise<void> {
  const reason = await waitReason(deps, cold, outcome);
  if (reason) {
    deps.observer.rebuildWaited(reason);
    await deps.writeBehindSettled();
  }
  // A subject the store holds nothing of is asked one question first: a new one has no row.
  if (outcome.fresh && !(await hasHistory(deps.db, cold))) {
    deps.observer.newSubject();
    await deps.store.seed({ ...emptySeed(subject, cold, now), generation: outcome.generation });
    return;
  }
  deps.observer.rebuilt(cold.length);
  const seed = await rebuildSeed(deps.db, subject, [...cold], now, exclude);
  await deps.store.seed({ ...seed, generation: outcome.generation });
}

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
    const answer = outcome as ColdOutcome;
    const cold = buckets.filter((b) => answer.buckets.includes(b.id));
    // A seed the store refuses (a markCold came after this answer) leaves them cold: the
    // next turn reads the ledger again, after the settle that markCold stands for.
    await deps.rebuilds.run(flightKey(subject, cold, answer.generation, exclude), () =>
      rebuild(deps, subject, cold, answer, now, exclude),
    );
  }
}
