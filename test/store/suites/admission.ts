import { describe, expect, it } from 'vitest';
import type { CounterStore } from '../../../src/store/counter-store.js';
import { bucket, decided, driver, freshSubject, MINUTE, SECOND, stateOf, T0 } from '../fixtures.js';

export function admissionSuite(store: () => CounterStore): void {
  const d = driver(store);

  describe('admission (SPEC §4.1)', () => {
    it('admits an estimate that lands exactly on the cost cap, refuses one µ$ more', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 1_000);
      await d.warm(u, [cost]);
      await d.settle(u, [cost], T0, 'spent', 600);
      expect(decided(await d.check(u, [cost], T0 + SECOND, { estimate: 401 })).admitted).toBe(false);
      const exact = await d.reserve(u, [cost], T0 + SECOND, 'r1', { estimate: 400 });
      expect(decided(exact).admitted).toBe(true);
      expect(stateOf(exact, 'cost')).toMatchObject({ used: 600, held: 400 });
    });

    it('with no estimate, admits only while something is left', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 1_000);
      await d.warm(u, [cost]);
      await d.settle(u, [cost], T0, 'spent', 999);
      expect(decided(await d.check(u, [cost], T0 + SECOND)).admitted).toBe(true);
      await d.settle(u, [cost], T0, 'spent-more', 1);
      expect(decided(await d.check(u, [cost], T0 + SECOND)).admitted).toBe(false);
    });

    it('counts holds toward the cost cap', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 1_000);
      await d.warm(u, [cost]);
      expect(decided(await d.reserve(u, [cost], T0, 'r1', { estimate: 700 })).admitted).toBe(true);
      expect(decided(await d.reserve(u, [cost], T0, 'r2', { estimate: 301 })).admitted).toBe(false);
      expect(decided(await d.reserve(u, [cost], T0, 'r3', { estimate: 300 })).admitted).toBe(true);
    });

    it('refuses everything at limit 0, except a sessions bucket the request does not evaluate', async () => {
      const u = freshSubject();
      const blocked = [
        bucket.costSlices('cost', 0),
        bucket.requestsLog('requests', 0),
        bucket.sessionsLog('sessions', 0),
        bucket.concurrency('concurrency', 0),
      ];
      await d.warm(u, blocked);
      for (const b of blocked) {
        const withSession = await d.check(u, [b], T0, { estimate: 1, sessionId: 's1' });
        expect(decided(withSession).admitted, b.id).toBe(false);
      }
      const costNoEstimate = await d.check(u, [blocked[0]!], T0);
      expect(decided(costNoEstimate).admitted).toBe(false);
      expect(decided(await d.check(u, [blocked[2]!], T0, { sessionId: null })).admitted).toBe(true);
    });

    it('admits requests while the count is below the limit', async () => {
      const u = freshSubject();
      const requests = bucket.requestsLog('requests', 2, MINUTE);
      await d.warm(u, [requests]);
      expect(decided(await d.reserve(u, [requests], T0, 'r1')).admitted).toBe(true);
      expect(decided(await d.reserve(u, [requests], T0 + 1, 'r2')).admitted).toBe(true);
      const third = await d.reserve(u, [requests], T0 + 2, 'r3');
      expect(decided(third).admitted).toBe(false);
      expect(stateOf(third, 'requests').used).toBe(2);
    });
  });

  describe('a refusal is atomic', () => {
    it('records nothing in any bucket when one bucket refuses', async () => {
      const u = freshSubject();
      const open = [
        bucket.costSlices('cost', 10_000),
        bucket.requestsLog('requests', 10),
        bucket.sessionsLog('sessions', 10),
        bucket.concurrency('concurrency', 10),
      ];
      const full = bucket.requestsLog('full', 0);
      await d.warm(u, [...open, full]);
      const refused = await d.reserve(u, [...open, full], T0, 'r1', { estimate: 500, sessionId: 's1' });
      expect(decided(refused).admitted).toBe(false);
      expect(decided(refused).reservation).toBeNull();
      const states = await d.states(u, open, T0, 's1');
      expect(states.get('cost')).toMatchObject({ used: 0, held: 0 });
      expect(states.get('requests')?.used).toBe(0);
      expect(states.get('sessions')).toMatchObject({ used: 0, reconnect: false });
      expect(states.get('concurrency')?.used).toBe(0);
      expect(await d.reservation(u, 'r1')).toBeNull();
      // Not remembered: the same request id is judged afresh.
      expect(decided(await d.reserve(u, open, T0, 'r1', { estimate: 500, sessionId: 's1' })).admitted).toBe(
        true,
      );
    });

    it('a dry run records nothing even when it admits', async () => {
      const u = freshSubject();
      const buckets = [
        bucket.costSlices('cost', 1_000),
        bucket.requestsLog('requests', 5),
        bucket.concurrency('c', 5),
      ];
      await d.warm(u, buckets);
      expect(decided(await d.check(u, buckets, T0, { estimate: 100 })).admitted).toBe(true);
      const states = await d.states(u, buckets, T0);
      expect([...states.values()].map((s) => s.used + s.held)).toEqual([0, 0, 0]);
    });
  });
}
