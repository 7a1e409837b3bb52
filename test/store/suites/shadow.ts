import { describe, expect, it } from 'vitest';
import type { CounterStore } from '../../../src/store/counter-store.js';
import { bucket, decided, driver, freshSubject, stateOf, T0 } from '../fixtures.js';

/** SPEC §4.8 at the port: a shadow bucket is judged and recorded, and never refuses. */
export function shadowSuite(store: () => CounterStore): void {
  const d = driver(store);

  describe('shadow buckets', () => {
    it('never refuse the decision, report their own verdict, and count like any bucket', async () => {
      const u = freshSubject();
      const enforced = bucket.requestsLog('enforced', 10);
      const shadow = { ...bucket.requestsLog('shadow', 1), shadow: true };
      await d.warm(u, [enforced, shadow]);
      const first = await d.reserve(u, [enforced, shadow], T0, 'r1');
      expect(decided(first).admitted).toBe(true);
      expect(stateOf(first, 'shadow')).toMatchObject({ used: 1, admits: true });
      const second = await d.reserve(u, [enforced, shadow], T0 + 1, 'r2');
      expect(decided(second).admitted).toBe(true);
      // Judged before recording: it would have refused, and it still counted.
      expect(stateOf(second, 'shadow')).toMatchObject({ used: 2, admits: false });
      expect(stateOf(second, 'enforced')).toMatchObject({ used: 2, admits: true });
    });

    it('an enforced bucket still refuses beside a shadow one, recording nothing', async () => {
      const u = freshSubject();
      const enforced = bucket.requestsLog('enforced', 1);
      const shadow = { ...bucket.requestsLog('shadow', 1), shadow: true };
      await d.warm(u, [enforced, shadow]);
      await d.reserve(u, [enforced, shadow], T0, 'r1');
      const refused = await d.reserve(u, [enforced, shadow], T0 + 1, 'r2');
      expect(decided(refused).admitted).toBe(false);
      expect(stateOf(refused, 'shadow').used).toBe(1);
    });
  });
}
