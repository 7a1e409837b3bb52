import { describe, expect, it } from 'vitest';
import type { Bucket } from '../../src/domain/buckets.js';
import type { BucketState } from '../../src/domain/bucket-state.js';
import { countingOf, leavesAt, sliceLengthMs, sliceStart } from '../../src/domain/counting.js';
import { decide } from '../../src/domain/decide.js';
import { bucketRetryAfterMs, decisionRetryAfterMs, nextQuotaMs, toSeconds } from '../../src/domain/retry.js';
import { currentWindow } from '../../src/domain/windows.js';
import { bucket, ms, USD } from './fixtures.js';

const NOW = ms('2027-01-04T12:00:00Z');
const MINUTE = 60_000;
const FIVE_HOURS = 18_000_000;

function retry(b: Bucket, state: BucketState, estimateMicros = 0, now = NOW, sessionId?: string) {
  const range = currentWindow(b.window, now, {
    firstUseStart: state.windowStart ?? null,
    resetMarker: b.resetMarker,
  });
  return bucketRetryAfterMs(b, state, { estimateMicros, sessionId }, range, now);
}

describe('rolling retry times', () => {
  const requests = bucket({ metric: 'requests', slot: '1m', limit: 2 });

  it('waits, to the millisecond, for the oldest request to leave the window', () => {
    const usage = [
      { at: NOW - 30_000, amount: 1 },
      { at: NOW - 20_000, amount: 1 },
    ];
    expect(retry(requests, { used: 2, held: 0, timeline: usage })).toBe(30_000);
  });

  it('waits for as many entries as must leave when the count is over the cap', () => {
    const usage = [NOW - 50_000, NOW - 40_000, NOW - 1].map((at) => ({ at, amount: 1 }));
    expect(retry(requests, { used: 3, held: 0, timeline: usage })).toBe(20_000);
  });

  it('ignores usage before the reset marker', () => {
    const marked = { ...requests, limit: 1, effectiveLimit: 1, resetMarker: NOW - 10_000 };
    const usage = [
      { at: NOW - 50_000, amount: 1 },
      { at: NOW - 5_000, amount: 1 },
    ];
    expect(retry(marked, { used: 1, held: 0, timeline: usage })).toBe(MINUTE - 5_000);
  });

  it('keeps a cost slice counted until its last instant leaves', () => {
    const slice = sliceLengthMs(FIVE_HOURS);
    const cost = bucket({ metric: 'cost', limit: 10 * USD });
    const first = sliceStart(NOW - 4 * 3_600_000, slice);
    const usage = [
      { at: first, amount: 6 * USD },
      { at: sliceStart(NOW - 1, slice), amount: 4 * USD },
    ];
    expect(retry(cost, { used: 10 * USD, held: 0, timeline: usage }, 1 * USD)).toBe(
      first + slice - 1 + FIVE_HOURS - NOW,
    );
  });

  it('is unknown when nothing in the window explains the usage', () => {
    expect(retry(requests, { used: 2, held: 0 })).toBeNull();
  });

  it('retries sessions when the oldest admission leaves the window', () => {
    const sessions = bucket({ metric: 'sessions', slot: '1m', limit: 1 });
    const usage = [{ at: NOW - 1_000, amount: 1 }];
    expect(retry(sessions, { used: 1, held: 0, timeline: usage }, 0, NOW, 's-2')).toBe(MINUTE - 1_000);
  });
});

describe('windowed retry times', () => {
  it('waits for the end of a calendar day', () => {
    const daily = bucket({ metric: 'requests', slot: 'daily', kind: 'calendar', limit: 1 });
    expect(retry(daily, { used: 1, held: 0 })).toBe(ms('2027-01-05T00:00:00Z') - NOW);
  });

  it('waits for the end of a fixed window', () => {
    const fixed = bucket({ metric: 'requests', slot: '5h', kind: 'fixed', limit: 1 });
    // 2027-01-04T12:00Z is a multiple of 5 h since the epoch: a window opens there.
    expect(retry(fixed, { used: 1, held: 0 }, 0, NOW + 3_600_000)).toBe(4 * 3_600_000);
  });

  it('waits for the end of the open first-use window', () => {
    const firstUse = bucket({ metric: 'cost', slot: '5h', kind: 'first_use', limit: 1 * USD });
    expect(retry(firstUse, { used: 1 * USD, held: 0, windowStart: NOW - 3_600_000 })).toBe(4 * 3_600_000);
  });
});

describe('retry times that do not exist', () => {
  it('is null for a total window', () => {
    expect(
      retry(bucket({ metric: 'cost', slot: 'total', kind: 'total', limit: 1 }), { used: 1, held: 0 }),
    ).toBeNull();
  });

  it('is null for a limit of 0', () => {
    expect(
      retry(bucket({ metric: 'requests', slot: 'daily', kind: 'calendar', limit: 0 }), { used: 0, held: 0 }),
    ).toBeNull();
  });

  it('is null for an estimate larger than the whole cap', () => {
    const daily = bucket({ metric: 'cost', slot: 'daily', kind: 'calendar', limit: 1 * USD });
    expect(retry(daily, { used: 0, held: 0 }, 1 * USD + 1)).toBeNull();
  });

  it('is 0 for a bucket that admits', () => {
    expect(retry(bucket({ metric: 'cost' }), { used: 0, held: 0 }, 1)).toBe(0);
  });
});

describe('concurrency retry times', () => {
  it('waits for the earliest held reservation to expire', () => {
    const concurrency = bucket({ metric: 'concurrency', slot: 'concurrent', limit: 2 });
    const holds = [
      { at: NOW + 5_000, amount: 1 },
      { at: NOW + 2_000, amount: 1 },
    ];
    expect(retry(concurrency, { used: 2, held: 0, timeline: holds })).toBe(2_000);
  });
});

describe('decision retry times', () => {
  it('takes the largest over the refusing buckets', () => {
    expect(decisionRetryAfterMs([1_000, 30_000, 5])).toBe(30_000);
  });

  it('is null when any refusing bucket has no time', () => {
    expect(decisionRetryAfterMs([1_000, null])).toBeNull();
    expect(decisionRetryAfterMs([])).toBeNull();
  });

  it('ignores admitting buckets', () => {
    const total = bucket({ metric: 'cost', slot: 'total', kind: 'total', limit: 10 * USD });
    const daily = bucket({ metric: 'requests', slot: 'daily', kind: 'calendar', limit: 1 });
    const states = new Map<string, BucketState>([[daily.key, { used: 1, held: 0 }]]);
    expect(decide([total, daily], states, { estimateMicros: 1 }, NOW).retryAfterMs).toBe(12 * 3_600_000);
  });

  it('rounds seconds up and never goes negative', () => {
    expect([0, 1, 1_000, 1_001, -5].map(toSeconds)).toEqual([0, 1, 1, 2, 0]);
  });
});

describe('time until more quota', () => {
  it('is the next entry to leave a rolling window', () => {
    const requests = bucket({ metric: 'requests', slot: '1m', limit: 10 });
    const state = { used: 1, held: 0, timeline: [{ at: NOW - 45_000, amount: 1 }] };
    expect(nextQuotaMs(requests, state, currentWindow(requests.window, NOW), NOW)).toBe(15_000);
  });
});

describe('counting modes', () => {
  const rollingMinute = bucket({ metric: 'requests', slot: '1m', limit: 5 });

  it('logs exact counts up to a cap of 1000 and slices the rest', () => {
    const { window, range } = rollingMinute;
    expect(countingOf('requests', window, range, null, 1000)).toEqual({
      mode: 'log',
      lengthMs: MINUTE,
      floor: 0,
    });
    expect(countingOf('sessions', window, range, 7, 1001)).toEqual({
      mode: 'slices',
      lengthMs: MINUTE,
      sliceMs: 1000,
      floor: 7,
    });
    expect(bucket({ metric: 'cost' }).counting).toEqual({
      mode: 'slices',
      lengthMs: FIVE_HOURS,
      sliceMs: 300_000,
      floor: 0,
    });
  });

  it('counts fixed, calendar and total windows per window start', () => {
    const daily = bucket({ metric: 'requests', slot: 'daily', kind: 'calendar' });
    expect(daily.counting).toEqual({
      mode: 'window',
      start: ms('2027-01-04T00:00:00Z'),
      end: ms('2027-01-05T00:00:00Z'),
      def: expect.any(String),
    });
    const total = bucket({ metric: 'cost', slot: 'total', kind: 'total' });
    expect(total.counting).toEqual({ mode: 'window', start: 0, end: null, def: expect.any(String) });
  });

  it('leaves first-use windows and concurrency to the store', () => {
    expect(bucket({ metric: 'cost', kind: 'first_use' }).counting).toEqual({
      mode: 'first_use',
      lengthMs: FIVE_HOURS,
      floor: 0,
    });
    expect(bucket({ metric: 'concurrency', slot: 'concurrent' }).counting).toEqual({ mode: 'concurrency' });
  });

  it('keeps slices at most length/60 and aligned on the epoch', () => {
    expect(sliceLengthMs(61_000)).toBe(1_000);
    expect(sliceLengthMs(30_000)).toBe(500);
    expect(sliceLengthMs(1_000)).toBe(16);
    expect(leavesAt(100, 1, MINUTE)).toBe(100 + MINUTE);
    expect(sliceStart(-1, 1_000)).toBe(-1_000);
  });
});
