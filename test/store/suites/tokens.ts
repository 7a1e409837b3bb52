import { describe, expect, it } from 'vitest';
import type { CounterStore, StoreBucket } from '../../../src/store/counter-store.js';
import { decided, driver, freshSubject, HOUR, MINUTE, rid, stateOf, T0 } from '../fixtures.js';

const tokenBucket = (
  id: string,
  metric: 'input_tokens' | 'output_tokens' | 'tokens',
  limit: number,
): StoreBucket => ({
  id,
  metric,
  counting: { mode: 'slices', lengthMs: HOUR, sliceMs: MINUTE, floor: 0 },
  limit,
});

/** Token buckets follow the cost rules with their own estimate (SPEC §4.7). */
export function tokensSuite(store: () => CounterStore): void {
  const d = driver(store);
  const input = tokenBucket('in', 'input_tokens', 1_000);
  const output = tokenBucket('out', 'output_tokens', 2_000);
  const total = tokenBucket('all', 'tokens', 2_500);
  const all = [input, output, total];

  describe('token buckets', () => {
    it('hold each metric its estimate (tokens: input + output) and refuse past the cap exactly', async () => {
      const u = freshSubject();
      await d.warm(u, all);
      const first = await d.reserve(u, all, T0, 'r1', { tokenEstimate: { input: 600, output: 900 } });
      expect(decided(first).admitted).toBe(true);
      expect(stateOf(first, 'in').held).toBe(600);
      expect(stateOf(first, 'out').held).toBe(900);
      expect(stateOf(first, 'all').held).toBe(1_500);
      // 600 + 400 fits the input cap exactly, 1500 + 1000 the total cap; one more token does not.
      const exact = await d.check(u, all, T0, { tokenEstimate: { input: 400, output: 600 } });
      expect(decided(exact).admitted).toBe(true);
      const over = await d.check(u, all, T0, { tokenEstimate: { input: 401, output: 0 } });
      expect(decided(over).admitted).toBe(false);
      const overTotal = await d.check(u, all, T0, { tokenEstimate: { input: 0, output: 1_001 } });
      expect(decided(overTotal).admitted).toBe(false);
    });

    it('charge the actual counts at settle, above the estimate too, and free the holds', async () => {
      const u = freshSubject();
      await d.warm(u, all);
      await d.reserve(u, all, T0, 'r1', { tokenEstimate: { input: 100, output: 100 } });
      const settled = await store().settle({
        subject: u,
        requestId: rid(u, 'r1'),
        buckets: all,
        now: T0 + 1,
        cost: 0,
        tokens: { input: 1_200, output: 300 },
        countRequest: false,
      });
      expect(settled).toEqual({ kind: 'applied' });
      const states = await d.states(u, all, T0 + 2);
      expect(states.get('in')).toMatchObject({ used: 1_200, held: 0 });
      expect(states.get('out')).toMatchObject({ used: 300, held: 0 });
      expect(states.get('all')).toMatchObject({ used: 1_500, held: 0 });
      expect(decided(await d.check(u, [input], T0 + 2)).admitted).toBe(false);
    });

    it('a settle without token counts charges none; without an estimate nothing is held', async () => {
      const u = freshSubject();
      await d.warm(u, all);
      const plain = await d.reserve(u, all, T0, 'r1');
      expect(stateOf(plain, 'all').held).toBe(0);
      await d.settle(u, all, T0 + 1, 'r1', 5_000);
      expect((await d.states(u, all, T0 + 2)).get('all')?.used).toBe(0);
    });
  });
}
