import { describe, expect, it } from 'vitest';
import type { CounterStore } from '../../../src/store/counter-store.js';
import {
  bucket,
  DAY,
  decided,
  driver,
  freshSubject,
  HOUR,
  MINUTE,
  SECOND,
  stateOf,
  T0,
} from '../fixtures.js';

export function windowsSuite(store: () => CounterStore): void {
  const d = driver(store);

  describe('rolling windows', () => {
    it('a sliding log admits again to the millisecond its oldest entry leaves', async () => {
      const u = freshSubject();
      const requests = bucket.requestsLog('requests', 2, MINUTE);
      await d.warm(u, [requests]);
      await d.reserve(u, [requests], T0, 'r1');
      await d.reserve(u, [requests], T0 + SECOND, 'r2');
      const refused = await d.check(u, [requests], T0 + MINUTE - 1);
      expect(decided(refused).admitted).toBe(false);
      expect(stateOf(refused, 'requests')).toMatchObject({ used: 2, windowStart: T0, windowEnd: null });
      expect(stateOf(refused, 'requests').timeline).toEqual([{ at: T0, amount: 1 }]);
      const admitted = await d.reserve(u, [requests], T0 + MINUTE, 'r3');
      expect(decided(admitted).admitted).toBe(true);
      expect(stateOf(admitted, 'requests').used).toBe(2);
    });

    it('lists as many of the oldest log entries as must leave', async () => {
      const u = freshSubject();
      const requests = bucket.requestsLog('requests', 2, MINUTE);
      await d.warm(u, [requests]);
      for (let i = 0; i < 4; i++) await d.settle(u, [requests], T0 + i, `s${i}`, 0, true);
      const state = stateOf(await d.check(u, [requests], T0 + 10), 'requests');
      expect(state.used).toBe(4);
      expect(state.timeline.map((e) => e.at)).toEqual([T0, T0 + 1, T0 + 2]);
    });

    it('sliced usage never leaves the window before exact usage would', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 1_000, HOUR, MINUTE);
      await d.warm(u, [cost]);
      await d.settle(u, [cost], T0 + 30 * SECOND, 'spent', 600);
      // The slice [T0, T0 + 1 min) counts while its last instant is inside (now − 1 h, now].
      const lastCounted = T0 + MINUTE - 2 + HOUR;
      const still = await d.check(u, [cost], lastCounted, { estimate: 500 });
      expect(decided(still).admitted).toBe(false);
      expect(stateOf(still, 'cost').timeline).toEqual([{ at: T0, amount: 600 }]);
      expect(decided(await d.check(u, [cost], lastCounted + 1, { estimate: 500 })).admitted).toBe(true);
      expect(lastCounted + 1).toBeGreaterThanOrEqual(T0 + 30 * SECOND + HOUR);
    });

    it('an admitting sliced bucket reports its oldest counted slice first (its next release)', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 10_000, HOUR, MINUTE);
      await d.warm(u, [cost]);
      for (let i = 0; i < 3; i++) await d.settle(u, [cost], T0 + i * MINUTE, `s${i}`, 100);
      const state = stateOf(await d.check(u, [cost], T0 + 10 * MINUTE), 'cost');
      expect(state.used).toBe(300);
      expect(state.timeline[0]).toEqual({ at: T0, amount: 100 });
      const refused = stateOf(await d.check(u, [cost], T0 + 10 * MINUTE, { estimate: 9_800 }), 'cost');
      expect(refused.timeline.map((e) => e.at)).toEqual([T0, T0 + MINUTE, T0 + 2 * MINUTE]);
    });

    it('slices sum every settle inside the window', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 1_000, HOUR, MINUTE);
      await d.warm(u, [cost]);
      for (let i = 0; i < 5; i++) await d.settle(u, [cost], T0 + i * 10 * MINUTE, `s${i}`, 200);
      const state = stateOf(await d.check(u, [cost], T0 + 45 * MINUTE), 'cost');
      expect(state.used).toBe(1_000);
      expect(state.timeline).toHaveLength(5);
    });
  });

  describe('fixed windows', () => {
    it('a window counter restarts when the window start changes', async () => {
      const u = freshSubject();
      const today = bucket.window('daily', 'requests', 1, T0, T0 + DAY);
      const tomorrow = bucket.window('daily', 'requests', 1, T0 + DAY, T0 + 2 * DAY);
      await d.warm(u, [today]);
      expect(decided(await d.reserve(u, [today], T0 + HOUR, 'r1')).admitted).toBe(true);
      const refused = await d.reserve(u, [today], T0 + 2 * HOUR, 'r2');
      expect(stateOf(refused, 'daily')).toMatchObject({ used: 1, windowStart: T0, windowEnd: T0 + DAY });
      const next = await d.reserve(u, [tomorrow], T0 + DAY, 'r3');
      expect(decided(next).admitted).toBe(true);
      expect(stateOf(next, 'daily')).toMatchObject({ used: 1, windowStart: T0 + DAY });
    });

    it('a caller still on the previous window counts the newer one', async () => {
      const u = freshSubject();
      const today = bucket.window('daily', 'requests', 5, T0, T0 + DAY);
      const tomorrow = bucket.window('daily', 'requests', 5, T0 + DAY, T0 + 2 * DAY);
      await d.warm(u, [today]);
      await d.reserve(u, [today], T0 + HOUR, 'r1');
      await d.reserve(u, [tomorrow], T0 + DAY, 'r2');
      expect(stateOf(await d.check(u, [today], T0 + DAY - 1), 'daily').used).toBe(1);
    });

    it('a total counter never resets', async () => {
      const u = freshSubject();
      const total = bucket.window('total', 'cost', 1_000_000, 0, null);
      await d.warm(u, [total]);
      await d.settle(u, [total], T0, 'a', 100);
      await d.settle(u, [total], T0 + 400 * DAY, 'b', 200);
      expect(stateOf(await d.check(u, [total], T0 + 800 * DAY), 'total')).toMatchObject({
        used: 300,
        windowEnd: null,
      });
    });

    it('first_use opens with the first admitted usage and re-opens after it closes', async () => {
      const u = freshSubject();
      const requests = bucket.firstUse('fu', 'requests', 2, 5 * HOUR);
      await d.warm(u, [requests]);
      expect(stateOf(await d.check(u, [requests], T0), 'fu')).toMatchObject({
        used: 0,
        windowStart: null,
        windowEnd: null,
      });
      const opened = await d.reserve(u, [requests], T0 + HOUR, 'r1');
      expect(stateOf(opened, 'fu')).toMatchObject({
        used: 1,
        windowStart: T0 + HOUR,
        windowEnd: T0 + 6 * HOUR,
      });
      await d.reserve(u, [requests], T0 + 2 * HOUR, 'r2');
      const full = await d.check(u, [requests], T0 + 6 * HOUR - 1);
      expect(decided(full).admitted).toBe(false);
      expect(stateOf(full, 'fu').windowEnd).toBe(T0 + 6 * HOUR);
      const closed = await d.check(u, [requests], T0 + 6 * HOUR);
      expect(stateOf(closed, 'fu')).toMatchObject({ used: 0, windowStart: null });
      const reopened = await d.reserve(u, [requests], T0 + 7 * HOUR, 'r3');
      expect(stateOf(reopened, 'fu')).toMatchObject({ used: 1, windowStart: T0 + 7 * HOUR });
    });

    it('first_use opens on a charged cost, and a reserve opens it too', async () => {
      const u = freshSubject();
      const cost = bucket.firstUse('fu', 'cost', 1_000, HOUR);
      await d.warm(u, [cost]);
      await d.settle(u, [cost], T0, 'direct', 0);
      expect(stateOf(await d.check(u, [cost], T0), 'fu').windowStart).toBeNull();
      await d.settle(u, [cost], T0 + MINUTE, 'direct2', 250);
      expect(stateOf(await d.check(u, [cost], T0 + MINUTE), 'fu')).toMatchObject({
        used: 250,
        windowStart: T0 + MINUTE,
      });
      const later = T0 + 2 * HOUR;
      expect(stateOf(await d.reserve(u, [cost], later, 'r1', { estimate: 10 }), 'fu')).toMatchObject({
        used: 0,
        held: 10,
        windowStart: later,
      });
    });

    it('a reset marker (floor) starts fresh storage, and closes a first_use window opened before it', async () => {
      const u = freshSubject();
      const before = bucket.firstUse('fu', 'requests', 5, 5 * HOUR);
      const marked = {
        ...before,
        counting: { mode: 'first_use' as const, lengthMs: 5 * HOUR, floor: T0 + HOUR },
      };
      await d.warm(u, [before]);
      await d.reserve(u, [before], T0, 'r1');
      const now = T0 + 2 * HOUR;
      expect(await store().peek(u, [marked], now, null)).toEqual({
        kind: 'cold',
        buckets: ['fu'],
        generation: '',
        fresh: false,
      });
      await store().seed({
        subject: u,
        now,
        buckets: [
          { bucket: marked, usage: [{ at: T0, amount: 1, requestId: 'x' }], sessions: [], firstUseStart: T0 },
        ],
        watermark: null,
        generation: '',
      });
      expect((await d.states(u, [marked], now)).get('fu')).toMatchObject({ used: 0, windowStart: null });
      expect(stateOf(await d.reserve(u, [marked], now, 'r2'), 'fu')).toMatchObject({
        used: 1,
        windowStart: now,
      });
    });
  });
}
