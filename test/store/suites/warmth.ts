import { describe, expect, it } from 'vitest';
import type {
  ColdOutcome,
  CounterStore,
  StoreBucket,
  SubjectSeed,
} from '../../../src/store/counter-store.js';
import { bucket, driver, freshSubject, HOUR, T0 } from '../fixtures.js';

export function warmthSuite(store: () => CounterStore): void {
  const d = driver(store);
  const seedOf = (
    subject: string,
    b: StoreBucket,
    usage: SubjectSeed['buckets'][number]['usage'],
    generation = '',
  ) =>
    store().seed({
      subject,
      now: T0,
      buckets: [{ bucket: b, usage, sessions: [], firstUseStart: null }],
      watermark: null,
      generation,
    });
  const generationOf = (outcome: { kind: string }) =>
    outcome.kind === 'cold' ? (outcome as ColdOutcome).generation : null;

  describe('cold buckets', () => {
    it('are reported by decide, peek and settle, and nothing is recorded', async () => {
      const u = freshSubject();
      const buckets = [
        bucket.costSlices('cost', 1_000),
        bucket.requestsLog('requests', 5),
        bucket.sessionsLog('sessions', 5),
        bucket.concurrency('slots', 5),
      ];
      const cold = { kind: 'cold', buckets: ['cost', 'requests', 'sessions'], generation: '', fresh: true };
      expect(await d.reserve(u, buckets, T0, 'r1', { estimate: 100, sessionId: 's1' })).toEqual(cold);
      expect(await d.check(u, buckets, T0)).toEqual(cold);
      expect(await store().peek(u, buckets, T0, null)).toEqual(cold);
      expect(await d.settle(u, buckets, T0, 'r1', 50, true)).toEqual(cold);
      expect(await d.reservation(u, 'r1')).toBeNull();
      await d.warm(u, buckets);
      const states = await d.states(u, buckets, T0, 's1');
      expect([...states.values()].map((s) => [s.used, s.held, s.reconnect])).toEqual([
        [0, 0, false],
        [0, 0, false],
        [0, 0, false],
        [0, 0, false],
      ]);
    });

    it('only the buckets still cold are reported', async () => {
      const u = freshSubject();
      const [warm, cold] = [bucket.requestsLog('warm', 5), bucket.requestsLog('cold', 5)];
      await d.warm(u, [warm]);
      expect(await d.check(u, [warm, cold], T0)).toEqual({
        kind: 'cold',
        buckets: ['cold'],
        generation: '',
        fresh: false,
      });
    });

    it('a changed window definition is cold until rebuilt', async () => {
      const u = freshSubject();
      const hour = bucket.requestsLog('requests', 5, HOUR);
      await d.warm(u, [hour]);
      await d.reserve(u, [hour], T0, 'r1');
      expect(await d.check(u, [bucket.requestsLog('requests', 5, 2 * HOUR)], T0)).toEqual({
        kind: 'cold',
        buckets: ['requests'],
        generation: '',
        fresh: false,
      });
    });

    it('markCold makes the next decision rebuild, and the rebuild replaces the old usage', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 1_000);
      await d.warm(u, [cost]);
      await d.settle(u, [cost], T0, 'a', 300);
      expect(await store().markCold(u, 'g1')).toEqual({ unreplicated: false });
      const cold = await d.check(u, [cost], T0);
      expect(cold).toMatchObject({ kind: 'cold', buckets: ['cost'], fresh: false });
      await seedOf(u, cost, [{ at: T0, amount: 120, requestId: 'x' }], generationOf(cold) ?? '');
      expect((await d.states(u, [cost], T0)).get('cost')?.used).toBe(120);
    });

    // A rebuild that read the ledger before a settle, then met a markCold standing for that
    // settle (its apply failed; a sweep forgot the flags), must not bring the flags back.
    it('answers a subject replicated once every replica has its writes (always, without replicas)', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 1_000);
      await d.warm(u, [cost]);
      await d.settle(u, [cost], T0, 'a', 10);
      expect(await store().replicated(u)).toBe(true);
    });

    it('refuses a seed begun before a markCold, and takes one begun after it', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 1_000);
      const before = generationOf(await d.check(u, [cost], T0));
      expect(before).toBe('');
      await store().markCold(u, 'g1');
      await seedOf(u, cost, [{ at: T0, amount: 100, requestId: 'a' }], before ?? '');
      const after = generationOf(await d.check(u, [cost], T0));
      expect(after).toBe('g1');
      await seedOf(u, cost, [{ at: T0, amount: 250, requestId: 'late' }], after ?? '');
      expect((await d.states(u, [cost], T0)).get('cost')?.used).toBe(250);
    });

    it('a markCold repeated for one cause spares seeds begun after the first; another cause refuses them', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 1_000);
      await d.warm(u, [cost]);
      await store().markCold(u, 'mark-1');
      expect(generationOf(await d.settle(u, [cost], T0, 'a', 10))).toBe('mark-1');
      await store().markCold(u, 'mark-1');
      await seedOf(u, cost, [{ at: T0, amount: 40, requestId: 'b' }], 'mark-1');
      expect((await d.states(u, [cost], T0)).get('cost')?.used).toBe(40);
      await store().markCold(u, 'mark-2');
      expect(generationOf(await store().peek(u, [cost], T0, null))).toBe('mark-2');
      await seedOf(u, cost, [], 'mark-1');
      expect(await d.check(u, [cost], T0)).toMatchObject({ kind: 'cold', generation: 'mark-2' });
    });
  });
}
