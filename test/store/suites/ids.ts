import { describe, expect, it } from 'vitest';
import type { CounterStore } from '../../../src/store/counter-store.js';
import { bucket, driver, freshSubject, T0 } from '../fixtures.js';

export function idsSuite(store: () => CounterStore): void {
  const d = driver(store);

  describe('ids', () => {
    it('subjects and bucket ids containing { } : | # never share counters', async () => {
      const base = freshSubject();
      // Pairs a naive `subject:bucket` layout would merge.
      const pairs: [string, string][] = [
        [`${base}:a`, 'b'],
        [base, 'a:b'],
        [`${base}{a}`, 'b'],
        [`${base}{a`, '}b'],
        [`${base}|a`, 'b'],
        [base, 'a|b'],
        [`${base}#a`, 'b'],
        [base, 'a#b'],
      ];
      for (const [subject, id] of pairs) await d.warm(subject, [bucket.requestsLog(id, 100)]);
      for (const [i, [subject, id]] of pairs.entries()) {
        for (let n = 0; n <= i; n++)
          await d.reserve(subject, [bucket.requestsLog(id, 100)], T0, `r${i}.${n}`);
      }
      for (const [i, [subject, id]] of pairs.entries()) {
        expect(
          (await d.states(subject, [bucket.requestsLog(id, 100)], T0)).get(id)?.used,
          `${subject} ${id}`,
        ).toBe(i + 1);
      }
    });

    it('request ids containing { } : | are distinct reservations and settles', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 1_000_000);
      await d.warm(u, [cost]);
      const ids = ['x', 'x:y', 'x|y', '{x}', 'x}{', 'x:'];
      for (const id of ids) await d.reserve(u, [cost], T0, id, { estimate: 1 });
      for (const id of ids) expect(await d.settle(u, [cost], T0, id, 10)).toEqual({ kind: 'applied' });
      expect((await d.states(u, [cost], T0)).get('cost')).toMatchObject({ used: 60, held: 0 });
      for (const id of ids) expect((await d.reservation(u, id))?.bodyHash).toBe(`hash-${id}`);
    });

    it('session ids containing separators are distinct sessions', async () => {
      const u = freshSubject();
      const sessions = bucket.sessionsLog('sessions', 10);
      await d.warm(u, [sessions]);
      for (const [i, s] of ['s', 's:1', 's|1', '{s}'].entries()) {
        await d.reserve(u, [sessions], T0, `r${i}`, { sessionId: s });
      }
      const state = await d.check(u, [sessions], T0, { sessionId: 's:' });
      expect(state.kind === 'decided' && state.states[0]).toMatchObject({ used: 4, reconnect: false });
    });
  });
}
