import { describe, expect, it } from 'vitest';
import type { Bucket } from '../../src/domain/buckets.js';
import type { BucketState } from '../../src/domain/bucket-state.js';
import { sliceLengthMs, sliceStart } from '../../src/domain/counting.js';
import { decide } from '../../src/domain/decide.js';
import { bucketView } from '../../src/domain/decision.js';
import { nextFreeAt } from '../../src/domain/retry.js';
import { currentWindow } from '../../src/domain/windows.js';
import { bucket, ms, USD } from './fixtures.js';

const NOW = ms('2027-01-04T12:00:00Z');
const MINUTE = 60_000;
const HOUR = 3_600_000;
const FIVE_HOURS = 5 * HOUR;

/** nextFreeAt as the decision core computes it, with the window placed as a store reports it. */
function freeAt(b: Bucket, state: BucketState, now = NOW): number | null {
  const range = currentWindow(b.window, now, {
    firstUseStart: state.windowStart ?? null,
    resetMarker: b.resetMarker,
  });
  return nextFreeAt(b, state, range);
}

describe('nextFreeAt on rolling windows', () => {
  it('is when the oldest logged event leaves the window (at + length)', () => {
    const requests = bucket({ metric: 'requests', slot: '1m', limit: 5 });
    const timeline = [
      { at: NOW - 45_000, amount: 1 },
      { at: NOW - 10_000, amount: 1 },
    ];
    expect(freeAt(requests, { used: 2, held: 0, timeline })).toBe(NOW - 45_000 + MINUTE);
  });

  it('is known from the one oldest event a store reports for a bucket under its cap', () => {
    const sessions = bucket({ metric: 'sessions', slot: '5h', limit: 5 });
    const state = { used: 3, held: 0, timeline: [{ at: NOW - 2 * HOUR, amount: 1 }] };
    expect(freeAt(sessions, state)).toBe(NOW + 3 * HOUR);
  });

  it('skips events before the reset marker', () => {
    const marked = { ...bucket({ metric: 'requests', slot: '1m', limit: 5 }), resetMarker: NOW - 20_000 };
    const timeline = [
      { at: NOW - 50_000, amount: 1 },
      { at: NOW - 5_000, amount: 1 },
    ];
    expect(freeAt(marked, { used: 1, held: 0, timeline })).toBe(NOW - 5_000 + MINUTE);
  });

  it('is when the oldest slice’s last instant leaves (sliceStart + sliceMs − 1 + length)', () => {
    const cost = bucket({ metric: 'cost', limit: 10 * USD });
    const slice = sliceLengthMs(FIVE_HOURS);
    const oldest = sliceStart(NOW - 4 * HOUR - 1, slice);
    const timeline = [
      { at: oldest, amount: 2 * USD },
      { at: sliceStart(NOW - 1, slice), amount: 1 * USD },
    ];
    expect(freeAt(cost, { used: 3 * USD, held: 0, timeline })).toBe(oldest + slice - 1 + FIVE_HOURS);
  });

  it('does not depend on the order the timeline arrives in', () => {
    const requests = bucket({ metric: 'requests', slot: '1m', limit: 5 });
    const timeline = [
      { at: NOW - 10_000, amount: 1 },
      { at: NOW - 45_000, amount: 1 },
    ];
    expect(freeAt(requests, { used: 2, held: 0, timeline })).toBe(NOW + 15_000);
  });

  it('is unknown (null) when the store reported usage but no timeline', () => {
    expect(freeAt(bucket({ metric: 'requests', slot: '1m', limit: 5 }), { used: 2, held: 0 })).toBeNull();
  });
});

describe('nextFreeAt on windows that reset', () => {
  it('is the end of a fixed window', () => {
    const fixed = bucket({ metric: 'requests', slot: '5h', kind: 'fixed', limit: 5 });
    // 12:00Z is a multiple of 5 h since the epoch: the window opened there.
    expect(freeAt(fixed, { used: 1, held: 0 }, NOW + HOUR)).toBe(NOW + FIVE_HOURS);
  });

  it('is the end of a calendar day', () => {
    const daily = bucket({ metric: 'cost', slot: 'daily', kind: 'calendar' });
    expect(freeAt(daily, { used: 1, held: 0 })).toBe(ms('2027-01-05T00:00:00Z'));
  });

  it('is the end of the open first-use window', () => {
    const firstUse = bucket({ metric: 'requests', slot: '5h', kind: 'first_use', limit: 5 });
    const state = { used: 2, held: 0, windowStart: NOW - HOUR };
    expect(freeAt(firstUse, state)).toBe(NOW + 4 * HOUR);
  });

  it('equals resetAt in the response', () => {
    const daily = bucket({ metric: 'requests', slot: 'daily', kind: 'calendar', limit: 3 });
    const [verdict] = decide(
      [daily],
      new Map([[daily.key, { used: 1, held: 0 }]]),
      { estimateMicros: 0 },
      NOW,
    ).verdicts;
    const view = bucketView(verdict!);
    expect(view.nextFreeAt).toBe('2027-01-05T00:00:00.000Z');
    expect(view.nextFreeAt).toBe(view.resetAt);
  });
});

describe('nextFreeAt that does not exist', () => {
  it('is null for a total window, however much is used', () => {
    const total = bucket({ metric: 'cost', slot: 'total', kind: 'total' });
    expect(freeAt(total, { used: 9 * USD, held: 0 })).toBeNull();
  });

  it('is null for concurrency, even with slots held that expire', () => {
    const concurrency = bucket({ metric: 'concurrency', slot: 'concurrent', limit: 2 });
    const state = { used: 2, held: 0, timeline: [{ at: NOW + 5_000, amount: 1 }] };
    expect(freeAt(concurrency, state)).toBeNull();
  });

  it.each([
    ['rolling log', bucket({ metric: 'requests', slot: '1m', limit: 5 })],
    ['rolling slices', bucket({ metric: 'cost' })],
    ['fixed', bucket({ metric: 'requests', kind: 'fixed', limit: 5 })],
    ['calendar', bucket({ metric: 'cost', slot: 'daily', kind: 'calendar' })],
    ['first_use', bucket({ metric: 'cost', kind: 'first_use' })],
  ])('is null on a %s bucket with nothing used, even with the window reset ahead', (_, b) => {
    expect(freeAt(b, { used: 0, held: 0 })).toBeNull();
  });

  it('is null when only holds are open: holds are not `used`', () => {
    const daily = bucket({ metric: 'cost', slot: 'daily', kind: 'calendar' });
    expect(freeAt(daily, { used: 0, held: 3 * USD })).toBeNull();
    const rolling = bucket({ metric: 'cost' });
    expect(freeAt(rolling, { used: 0, held: 3 * USD, timeline: [] })).toBeNull();
  });

  it('is null in the response, next to a resetAt that does exist', () => {
    const daily = bucket({ metric: 'cost', slot: 'daily', kind: 'calendar' });
    const [verdict] = decide([daily], new Map(), { estimateMicros: 0 }, NOW).verdicts;
    expect(bucketView(verdict!)).toMatchObject({
      used: 0,
      resetAt: '2027-01-05T00:00:00.000Z',
      nextFreeAt: null,
    });
  });
});

describe('a "3 / 5 sessions used in the last 5h — next back at …" line', () => {
  it('is drawn from one bucket view, whether or not the bucket is exceeded', () => {
    const sessions = bucket({ metric: 'sessions', slot: '5h', limit: 5, key: 'user:u-42|*|sessions|5h' });
    // Admitted 3 h 55 min, 2 h and 1 h ago; the store reports the oldest only (enough).
    const state = { used: 3, held: 0, timeline: [{ at: NOW - 3 * HOUR - 55 * MINUTE, amount: 1 }] };
    const decision = decide([sessions], new Map([[sessions.key, state]]), { estimateMicros: 0 }, NOW);
    const view = bucketView(decision.verdicts[0]!);
    const line = `${view.used} / ${view.effectiveLimit} sessions used in the last ${view.window} — next back at ${view.nextFreeAt?.slice(11, 16)}`;
    expect(line).toBe('3 / 5 sessions used in the last 5h — next back at 13:05');
  });
});
