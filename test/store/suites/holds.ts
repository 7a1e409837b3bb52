import { describe, expect, it } from 'vitest';
import type { CounterStore } from '../../../src/store/counter-store.js';
import { bucket, decided, driver, freshSubject, SECOND, stateOf, T0 } from '../fixtures.js';

export function holdsSuite(store: () => CounterStore): void {
  const d = driver(store);

  describe('holds and concurrency slots', () => {
    it('a hold lapses exactly at its expiry', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 1_000);
      await d.warm(u, [cost]);
      await d.reserve(u, [cost], T0, 'r1', { estimate: 300, holdTtlMs: 10 * SECOND });
      expect((await d.states(u, [cost], T0 + 10 * SECOND - 1)).get('cost')?.held).toBe(300);
      expect((await d.states(u, [cost], T0 + 10 * SECOND)).get('cost')?.held).toBe(0);
      expect(decided(await d.reserve(u, [cost], T0 + 10 * SECOND, 'r2', { estimate: 1_000 })).admitted).toBe(
        true,
      );
    });

    it('counts held reservations and reports the earliest expiry first', async () => {
      const u = freshSubject();
      const slots = bucket.concurrency('slots', 2);
      await d.reserve(u, [slots], T0, 'r1', { holdTtlMs: 10 * SECOND });
      await d.reserve(u, [slots], T0 + SECOND, 'r2', { holdTtlMs: 5 * SECOND });
      const refused = await d.reserve(u, [slots], T0 + 2 * SECOND, 'r3');
      expect(decided(refused).admitted).toBe(false);
      expect(stateOf(refused, 'slots').used).toBe(2);
      expect(stateOf(refused, 'slots').timeline[0]).toEqual({ at: T0 + 6 * SECOND, amount: 1 });
      expect(decided(await d.reserve(u, [slots], T0 + 6 * SECOND, 'r3')).admitted).toBe(true);
    });

    it('a concurrency bucket is never cold', async () => {
      const u = freshSubject();
      const slots = bucket.concurrency('slots', 1);
      expect(decided(await d.reserve(u, [slots], T0, 'r1')).admitted).toBe(true);
      expect((await d.states(u, [slots], T0)).get('slots')?.used).toBe(1);
    });

    it('release frees the hold and the slot but keeps the request counted', async () => {
      const u = freshSubject();
      const buckets = [
        bucket.costSlices('cost', 1_000),
        bucket.requestsLog('requests', 5),
        bucket.concurrency('slots', 1),
      ];
      await d.warm(u, buckets);
      await d.reserve(u, buckets, T0, 'r1', { estimate: 400 });
      expect(await d.release(u, buckets, T0 + SECOND, 'r1')).toEqual({ kind: 'applied' });
      const states = await d.states(u, buckets, T0 + SECOND);
      expect(states.get('cost')).toMatchObject({ used: 0, held: 0 });
      expect(states.get('slots')?.used).toBe(0);
      expect(states.get('requests')?.used).toBe(1);
      expect((await d.reservation(u, 'r1'))?.state).toBe('released');
      expect(await d.release(u, buckets, T0 + SECOND, 'r1')).toEqual({ kind: 'already_applied' });
    });
  });
}
