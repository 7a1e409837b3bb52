import { describe, expect, it } from 'vitest';
import { openFirstUseWindow } from '../../src/domain/first-use.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2027-01-04T00:00:00Z');
const start = (at: number, lengthMs = 5 * HOUR) => ({ startedAt: at, lengthMs });

describe('the open first-use window from recorded starts', () => {
  it('is the latest start while its window lasts, and none after it ended', () => {
    const starts = [start(T0), start(T0 + 6 * HOUR)];
    expect(openFirstUseWindow(starts, T0 + 7 * HOUR, 5 * HOUR, 0)).toBe(T0 + 6 * HOUR);
    expect(openFirstUseWindow(starts, T0 + 11 * HOUR, 5 * HOUR, 0)).toBeNull();
    expect(openFirstUseWindow([], T0, 5 * HOUR, 0)).toBeNull();
  });

  it('skips a candidate start inside an earlier window: it opened nothing', () => {
    const starts = [start(T0 + 2 * HOUR), start(T0)];
    expect(openFirstUseWindow(starts, T0 + 3 * HOUR, 5 * HOUR, 0)).toBe(T0);
    // After that window, the candidate opened nothing either: the next usage opens one.
    expect(openFirstUseWindow(starts, T0 + 6 * HOUR, 5 * HOUR, 0)).toBeNull();
  });

  it('keeps the candidate of a settle the store never saw when it opened the window', () => {
    // The store, unaware of the settle at T0, opened a window at its next usage.
    const starts = [start(T0), start(T0 + 1 * HOUR)];
    expect(openFirstUseWindow(starts, T0 + 2 * HOUR, 5 * HOUR, 0)).toBe(T0);
  });

  it('judges each start by the length it was recorded under, and ignores starts before the reset marker', () => {
    const starts = [start(T0, HOUR), start(T0 + 2 * HOUR, HOUR)];
    expect(openFirstUseWindow(starts, T0 + 2.5 * HOUR, 5 * HOUR, 0)).toBe(T0 + 2 * HOUR);
    expect(openFirstUseWindow([start(T0), start(T0 + HOUR)], T0 + 2 * HOUR, 5 * HOUR, T0 + 30 * 60_000)).toBe(
      T0 + HOUR,
    );
  });
});
