import { describe, expect, it } from 'vitest';
import type { CounterStore } from '../../../src/store/counter-store.js';
import { bucket, decided, driver, freshSubject, rid, SECOND, T0 } from '../fixtures.js';

/** POST /extend at the port (SPEC §4.2): a long stream keeps its hold and its slot. */
export function extendSuite(store: () => CounterStore): void {
  const d = driver(store);
  const extend = (
    subject: string,
    buckets: Parameters<typeof d.warm>[1],
    now: number,
    name: string,
    expiresAt: number,
  ) => store().extend({ subject, requestId: rid(subject, name), buckets, now, expiresAt });

  describe('extend', () => {
    it('moves the hold, the slot and the record to the new expiry', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 1_000);
      const slots = bucket.concurrency('slots', 1);
      await d.warm(u, [cost, slots]);
      await d.reserve(u, [cost, slots], T0, 'r1', { estimate: 600, holdTtlMs: 10 * SECOND });
      expect(await extend(u, [cost, slots], T0 + 5 * SECOND, 'r1', T0 + 60 * SECOND)).toEqual({
        kind: 'extended',
      });
      const later = T0 + 30 * SECOND;
      const states = await d.states(u, [cost, slots], later);
      expect(states.get('cost')?.held).toBe(600);
      expect(states.get('slots')?.used).toBe(1);
      expect(states.get('slots')?.timeline[0]).toEqual({ at: T0 + 60 * SECOND, amount: 1 });
      expect(decided(await d.reserve(u, [cost, slots], later, 'r2', { estimate: 500 })).admitted).toBe(false);
      expect((await d.reservation(u, 'r1'))?.expiresAt).toBe(T0 + 60 * SECOND);
      // Then it lapses at the new expiry, exactly.
      expect((await d.states(u, [cost], T0 + 60 * SECOND)).get('cost')?.held).toBe(0);
    });

    it('is idempotent: the same extension again sets the same expiry and holds nothing twice', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 1_000);
      await d.warm(u, [cost]);
      await d.reserve(u, [cost], T0, 'r1', { estimate: 300, holdTtlMs: 10 * SECOND });
      for (let i = 0; i < 2; i++) {
        expect(await extend(u, [cost], T0 + SECOND, 'r1', T0 + 20 * SECOND)).toEqual({ kind: 'extended' });
      }
      expect((await d.states(u, [cost], T0 + 15 * SECOND)).get('cost')?.held).toBe(300);
    });

    it('refuses a lapsed, settled or released reservation, and knows no other', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 1_000);
      await d.warm(u, [cost]);
      for (const name of ['lapsed', 'settled', 'released'])
        await d.reserve(u, [cost], T0, name, { estimate: 100, holdTtlMs: 10 * SECOND });
      await d.settle(u, [cost], T0 + SECOND, 'settled', 100);
      await d.release(u, [cost], T0 + SECOND, 'released');
      const at = T0 + 10 * SECOND;
      expect(await extend(u, [cost], at, 'lapsed', at + SECOND)).toEqual({
        kind: 'closed',
        state: 'expired',
      });
      expect(await extend(u, [cost], at, 'settled', at + SECOND)).toEqual({
        kind: 'closed',
        state: 'settled',
      });
      expect(await extend(u, [cost], at, 'released', at + SECOND)).toEqual({
        kind: 'closed',
        state: 'released',
      });
      expect(await extend(u, [cost], at, 'never', at + SECOND)).toEqual({ kind: 'unknown' });
      expect((await d.states(u, [cost], at)).get('cost')?.held).toBe(0);
    });
  });
}
