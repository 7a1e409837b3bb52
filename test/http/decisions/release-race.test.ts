import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ApplyOutcome, StoreBucket } from '../../../src/store/counter-store.js';
import { MemoryCounterStore } from '../../../src/store/memory/memory-store.js';
import { RedisCounterStore } from '../../../src/store/redis/redis-store.js';
import { describeWithServers } from '../../support/services.js';
import {
  SECOND,
  T0,
  expectProblem,
  ledgerRow,
  uid,
  useEmbeddedGate,
  useServersGate,
  type Gate,
} from './support.js';

type Release = (
  subject: string,
  requestId: string,
  buckets: StoreBucket[],
  now: number,
) => Promise<ApplyOutcome>;
type StoreClass = { prototype: { release: Release } };

/**
 * A /release looks the reservation up (held), writes its ledger row, then frees the hold
 * in the store. A /settle that commits and applies in between (its ledger write turns the
 * released row into a settle) closes the reservation first: the store answers
 * `already_applied`, and the release must answer as it would after the settle (SPEC §4.2),
 * not 200 `released`. The settle is run exactly there, by letting the store's release wait
 * for it: the ordering is injected, no timing is guessed.
 */
function releaseRacingASettle(gate: () => Gate, store: StoreClass) {
  afterEach(() => vi.restoreAllMocks());

  async function user(g: Gate) {
    const id = uid('u');
    const model = uid('model');
    await g.limit({ subjectType: 'user', subjectId: id, metric: 'cost', window: 'daily', limit: 1 });
    await g.limit({ subjectType: 'user', subjectId: id, metric: 'concurrency', limit: 2 });
    return { id, model };
  }

  /** The store's next release first lets `meanwhile` finish. */
  function beforeNextRelease(meanwhile: () => Promise<unknown>) {
    const real = store.prototype.release;
    vi.spyOn(store.prototype, 'release').mockImplementationOnce(async function (
      this: unknown,
      ...args: Parameters<Release>
    ) {
      await meanwhile();
      return real.apply(this, args);
    });
  }

  it('answers 409 reservation_closed (settled) when a settle closed it after the lookup', async () => {
    const g = gate();
    const u = await user(g);
    const requestId = uid('r');
    await g.reserve({ userId: u.id, model: u.model, estimatedCostUsd: 0.5, requestId }, T0);
    let settled: number | null = null;
    beforeNextRelease(async () => {
      settled = (await g.settle({ requestId, costUsd: 0.2 }, T0 + SECOND)).status;
    });

    const release = await g.release(requestId, T0 + 2 * SECOND);

    expect(settled).toBe(200);
    expectProblem(release, 409, 'reservation_closed');
    expect(release.body.state).toBe('settled');
    expect(await ledgerRow(g, requestId)).toMatchObject({ status: 'settled', costMicros: 200_000 });
    const again = await g.settle({ requestId, costUsd: 0.2 }, T0 + 3 * SECOND);
    expect(again.body).toMatchObject({ duplicate: true, costUsd: 0.2 });
  });

  it('still answers 200 released when a concurrent release closed it first', async () => {
    const g = gate();
    const u = await user(g);
    const requestId = uid('r');
    await g.reserve({ userId: u.id, model: u.model, estimatedCostUsd: 0.5, requestId }, T0);
    let first: unknown = null;
    beforeNextRelease(async () => {
      first = (await g.release(requestId, T0 + SECOND)).body;
    });

    const release = await g.release(requestId, T0 + 2 * SECOND);

    expect(first).toEqual({ requestId, state: 'released' });
    expect(release.status).toBe(200);
    expect(release.body).toEqual({ requestId, state: 'released' });
  });
}

describeWithServers('/release racing a /settle (Redis)', () => {
  releaseRacingASettle(useServersGate(), RedisCounterStore as unknown as StoreClass);
});

describe('/release racing a /settle (embedded)', () => {
  releaseRacingASettle(useEmbeddedGate(), MemoryCounterStore as unknown as StoreClass);
});
