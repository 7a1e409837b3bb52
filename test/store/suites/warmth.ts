import { describe, expect, it } from 'vitest';
import type { CounterStore, StoreBucket, SubjectSeed } from '../../../src/store/counter-store.js';
import { bucket, driver, freshSubject, HOUR, T0 } from '../fixtures.js';

export function warmthSuite(store: () => CounterStore): void {
  const d = driver(store);
  const seedOf = (
    subject: string,
    b: StoreBucket,
    usage: SubjectSeed['buckets'][number]['usage'],
    included: string[] = [],
  ) =>
    store().seed({
      subject,
      now: T0,
      buckets: [{ bucket: b, usage, sessions: [], firstUseStart: null }],
      includedRequestIds: included,
    });

  describe('cold buckets', () => {
    it('are reported by decide, peek and settle, and nothing is recorded', async () => {
      const u = freshSubject();
      const buckets = [
        bucket.costSlices('cost', 1_000),
        bucket.requestsLog('requests', 5),
        bucket.sessionsLog('sessions', 5),
        bucket.concurrency('slots', 5),
      ];
      const cold = { kind: 'cold', buckets: ['cost', 'requests', 'sessions'] };
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
      expect(await d.check(u, [warm, cold], T0)).toEqual({ kind: 'cold', buckets: ['cold'] });
    });

    it('a changed window definition is cold until rebuilt', async () => {
      const u = freshSubject();
      const hour = bucket.requestsLog('requests', 5, HOUR);
      await d.warm(u, [hour]);
      await d.reserve(u, [hour], T0, 'r1');
      expect(await d.check(u, [bucket.requestsLog('requests', 5, 2 * HOUR)], T0)).toEqual({
        kind: 'cold',
        buckets: ['requests'],
      });
    });

    it('markCold makes the next decision rebuild, and the rebuild replaces the old usage', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 1_000);
      await d.warm(u, [cost]);
      await d.settle(u, [cost], T0, 'a', 300);
      expect(await store().markCold(u)).toEqual({ unreplicated: false });
      expect(await d.check(u, [cost], T0)).toEqual({ kind: 'cold', buckets: ['cost'] });
      await seedOf(u, cost, [{ at: T0, amount: 120, requestId: 'x' }]);
      expect((await d.states(u, [cost], T0)).get('cost')?.used).toBe(120);
    });
  });
}
