import { describe, expect, it } from 'vitest';
import { entryCounts, sliceStart } from '../../../src/domain/counting.js';
import { firstUseOpen, firstUseStartAt, type FirstUseRule } from '../../../src/domain/first-use.js';
import { rollingStart } from '../../../src/domain/windows.js';
import type { CounterStore, StoreBucket } from '../../../src/store/counter-store.js';
import { driver, freshSubject, HOUR, MINUTE, SECOND, T0 } from '../fixtures.js';

/**
 * The window rules the Redis scripts restate (lua/usage.lua: first_use_open, rolling_start)
 * answer as the domain's one statement of each does (src/domain/first-use.ts, windows.ts):
 * every case's expectation is computed by the domain function, at the boundaries and one
 * millisecond either side.
 */
export function windowRulesSuite(store: () => CounterStore): void {
  const d = driver(store);

  describe('first-use windows follow the domain rule (firstUseOpen)', () => {
    const length = HOUR;
    // [label, window opened at, reset marker (floor), read at]: offsets from T0.
    const cases: [string, number, number, number][] = [
      ['at its opening instant', 0, 0, 0],
      ['one ms before its end', 0, 0, length - 1],
      ['exactly at its end', 0, 0, length],
      ['one ms after its end', 0, 0, length + 1],
      ['read one ms before it opened (a skewed clock)', 0, 0, -1],
      ['a marker one ms before its start', 10, 9, 20],
      ['a marker exactly at its start', 10, 10, 20],
      ['a marker one ms after its start', 10, 11, 20],
      ['a marker after its start, read after its end', 10, 11, length + 20],
    ];

    it.each(cases)('%s', async (_label, openedAt, floor, readAt) => {
      const u = freshSubject('fu-rule');
      const rule: FirstUseRule = { lengthMs: length, floor: T0 + floor };
      const fu: StoreBucket = {
        id: 'fu',
        metric: 'cost',
        counting: { mode: 'first_use', ...rule },
        limit: 1e9,
      };
      const start = T0 + openedAt;
      const now = T0 + readAt;
      await d.warm(u, [fu], start);
      await d.settle(u, [fu], start, 'opens', 100);
      // The stored start (the settle opened the window at `start`, none being open before).
      const open = firstUseOpen(start, rule, now);
      expect((await d.states(u, [fu], now)).get('fu')).toMatchObject({
        used: open ? 100 : 0,
        windowStart: open ? start : null,
        windowEnd: open ? start + length : null,
      });
      // Usage at `now` counts in the open window, or opens the next one at `now`.
      await d.settle(u, [fu], now, 'next', 10);
      const next = firstUseStartAt(start, rule, now);
      const nextOpen = firstUseOpen(next, rule, now);
      expect((await d.states(u, [fu], now)).get('fu')).toMatchObject({
        used: nextOpen ? (next === start ? 110 : 10) : 0,
        windowStart: nextOpen ? next : null,
      });
    });
  });

  describe('rolling windows follow the domain rule (rollingStart)', () => {
    const length = MINUTE;
    const events = [0, 10, 20];
    // [label, reset marker (floor), read at]: offsets from T0; events at T0 + 0, 10, 20 ms.
    const cases: [string, number, number][] = [
      ['the window starting one ms before an event', 0, length + 9],
      ['the window starting exactly at an event', 0, length + 10 - 1],
      ['the window starting one ms after an event', 0, length + 10],
      ['a marker one ms before an event', 9, length - 1],
      ['a marker exactly at an event', 10, length - 1],
      ['a marker one ms after an event', 11, length - 1],
    ];

    it.each(cases)('a log: %s', async (_label, floor, readAt) => {
      const u = freshSubject('log-rule');
      const counting = { mode: 'log' as const, lengthMs: length, floor: T0 + floor };
      const log: StoreBucket = { id: 'log', metric: 'requests', counting, limit: 100 };
      await d.warm(u, [log], T0);
      for (const at of events) await d.settle(u, [log], T0 + at, `e${at}`, 0, true);
      const now = T0 + readAt;
      const from = rollingStart(counting, now);
      expect((await d.states(u, [log], now)).get('log')).toMatchObject({
        used: events.filter((at) => T0 + at >= from).length,
        windowStart: from,
      });
    });

    // Slices of one minute in an hour: a slice counts while its last instant is in the window.
    const sliceCases: [string, number, number][] = [
      ["the first slice's last instant one ms inside", 0, MINUTE - 1 + HOUR - 1],
      ["the first slice's last instant just left", 0, MINUTE - 1 + HOUR],
      ['a marker one ms after the first slice ends', MINUTE, 2 * MINUTE],
      ["a marker at the first slice's last instant", MINUTE - 1, 2 * MINUTE],
    ];

    it.each(sliceCases)('slices: %s', async (_label, floor, readAt) => {
      const u = freshSubject('slice-rule');
      const counting = { mode: 'slices' as const, lengthMs: HOUR, sliceMs: MINUTE, floor: T0 + floor };
      const slices: StoreBucket = { id: 'slices', metric: 'cost', counting, limit: 1e9 };
      await d.warm(u, [slices], T0);
      const spends = [30 * SECOND, 90 * SECOND];
      for (const at of spends) await d.settle(u, [slices], T0 + at, `s${at}`, 100);
      const now = T0 + readAt;
      const from = rollingStart(counting, now);
      const counted = spends.filter((at) => entryCounts(sliceStart(T0 + at, MINUTE), MINUTE, from));
      expect((await d.states(u, [slices], now)).get('slices')?.used).toBe(100 * counted.length);
    });
  });
}
