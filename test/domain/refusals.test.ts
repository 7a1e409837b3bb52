import { describe, expect, it } from 'vitest';
import type { Bucket } from '../../src/domain/buckets.js';
import type { BucketState } from '../../src/domain/bucket-state.js';
import { sliceLengthMs, sliceStart } from '../../src/domain/counting.js';
import { decide } from '../../src/domain/decide.js';
import { buildDecisionResponse } from '../../src/domain/decision.js';
import { bucketRetryAfterMs, decisionRetryAfterMs, refusedByHoldsOnly } from '../../src/domain/retry.js';
import type { WindowDef } from '../../src/domain/windows.js';
import { currentWindow } from '../../src/domain/windows.js';
import { bucket, ms, USD } from './fixtures.js';

const NOW = ms('2027-01-04T12:00:00Z');
const HOUR = 3_600_000;
const SLICE = sliceLengthMs(5 * HOUR);

function retry(b: Bucket, state: BucketState, estimateMicros = 0) {
  const range = currentWindow(b.window, NOW, {
    firstUseStart: state.windowStart ?? null,
    resetMarker: b.resetMarker,
  });
  return bucketRetryAfterMs(b, state, { estimateMicros }, range, NOW);
}

/** A $10 cost bucket of each window kind, with $6 settled an hour ago (as its store reports it). */
const KINDS: [WindowDef['kind'], string][] = [
  ['rolling', '5h'],
  ['fixed', '5h'],
  ['calendar', 'daily'],
  ['first_use', '5h'],
  ['total', 'total'],
];

function spent(kind: WindowDef['kind'], used: number, held: number): BucketState {
  const at = sliceStart(NOW - HOUR, SLICE);
  return {
    used,
    held,
    ...(kind === 'rolling' ? { timeline: [{ at, amount: used }] } : {}),
    ...(kind === 'first_use' ? { windowStart: NOW - HOUR } : {}),
  };
}

describe('a refusal caused only by open holds', () => {
  describe.each(KINDS)('on a %s window', (kind, slot) => {
    const cost = bucket({ metric: 'cost', slot, kind, key: `user:u-42|g3|cost|${slot}` });

    it('has no retry time without an estimate (used + held reaches the cap, used alone does not)', () => {
      const state = spent(kind, 6 * USD, 4 * USD);
      expect(refusedByHoldsOnly(cost, state, { estimateMicros: 0 })).toBe(true);
      expect(retry(cost, state)).toBeNull();
    });

    it('has no retry time with an estimate that fits beside used but not beside the holds', () => {
      const state = spent(kind, 6 * USD, 3 * USD);
      expect(refusedByHoldsOnly(cost, state, { estimateMicros: 2 * USD })).toBe(true);
      expect(retry(cost, state, 2 * USD)).toBeNull();
    });

    it('answers 429 with retryAfterMs null, no Retry-After and no RateLimit t', () => {
      const response = buildDecisionResponse(
        decide([cost], new Map([[cost.key, spent(kind, 6 * USD, 4 * USD)]]), { estimateMicros: 0 }, NOW),
      );
      expect(response.statusCode).toBe(429);
      expect(response.body.retryAfterMs).toBeNull();
      expect(response.body.buckets[0]).toMatchObject({
        exceeded: true,
        retryAfterMs: null,
        used: 6,
        held: 4,
      });
      expect(response.headers['Retry-After']).toBeUndefined();
      expect(response.headers['RateLimit']).toBe(`"${cost.key}";r=0`);
    });
  });

  it('keeps the retry time when used alone (with the estimate) is over the cap', () => {
    const daily = bucket({ metric: 'cost', slot: 'daily', kind: 'calendar' });
    const state = { used: 9 * USD, held: 1 * USD };
    expect(refusedByHoldsOnly(daily, state, { estimateMicros: 2 * USD })).toBe(false);
    expect(retry(daily, state, 2 * USD)).toBe(12 * HOUR);
    const rolling = bucket({ metric: 'cost' });
    const at = sliceStart(NOW - HOUR, SLICE);
    const timeline = [{ at, amount: 9 * USD }];
    expect(retry(rolling, { ...state, timeline }, 2 * USD)).toBe(at + SLICE - 1 + 5 * HOUR - NOW);
  });

  it('has no time at the window’s end when the holds alone still leave no room', () => {
    const daily = bucket({ metric: 'cost', slot: 'daily', kind: 'calendar' });
    expect(retry(daily, { used: 10 * USD, held: 10 * USD })).toBeNull();
    expect(retry(daily, { used: 10 * USD, held: 9 * USD })).toBe(12 * HOUR);
  });

  it('leaves concurrency alone: a full bucket waits for the earliest slot to expire', () => {
    const concurrency = bucket({ metric: 'concurrency', slot: 'concurrent', limit: 1 });
    const state = { used: 1, held: 0, timeline: [{ at: NOW + 90_000, amount: 1 }] };
    expect(refusedByHoldsOnly(concurrency, state, { estimateMicros: 0 })).toBe(false);
    expect(retry(concurrency, state)).toBe(90_000);
  });

  it('makes the whole decision’s wait unknown beside a bucket with a time', () => {
    const daily = bucket({ metric: 'cost', slot: 'daily', kind: 'calendar', key: 'user:u-42|g3|cost|daily' });
    const minute = bucket({ metric: 'requests', slot: '1m', limit: 1, key: 'user:u-42|g3|requests|1m' });
    const states = new Map<string, BucketState>([
      [daily.key, { used: 1 * USD, held: 9 * USD }],
      [minute.key, { used: 1, held: 0, timeline: [{ at: NOW - 30_000, amount: 1 }] }],
    ]);
    const response = buildDecisionResponse(decide([minute, daily], states, { estimateMicros: 0 }, NOW));
    expect(response.body.retryAfterMs).toBeNull();
    expect(response.body.reason).toBe('user u-42: cost daily limit reached on group 3 (opus)');
    expect(response.headers['Retry-After']).toBeUndefined();
    expect(response.headers['RateLimit']).toBe(`"${daily.key}";r=0`);
  });
});

describe('the binding bucket of a refusal', () => {
  // Over a 1 h requests cap (free again in 50 min) and a 5 h sessions cap (free in 4 h).
  const allModels = { modelGroupId: null, modelGroupName: null };
  const requests = bucket({ metric: 'requests', slot: '1m', limit: 2, ...allModels });
  const hourly: Bucket = {
    ...requests,
    key: 'user:u-42|*|requests|1h',
    window: { ...requests.window, slot: '1h', lengthMs: HOUR },
    counting: { mode: 'log', lengthMs: HOUR, floor: 0 },
  };
  const sessions = bucket({
    metric: 'sessions',
    slot: '5h',
    limit: 5,
    key: 'user:u-42|*|sessions|5h',
    ...allModels,
  });
  const states = new Map<string, BucketState>([
    [hourly.key, { used: 2, held: 0, timeline: [{ at: NOW - 10 * 60_000, amount: 1 }] }],
    [sessions.key, { used: 5, held: 0, timeline: [{ at: NOW - HOUR, amount: 1 }] }],
  ]);
  const demand = { estimateMicros: 0, sessionId: 's-new' };

  it.each([
    ['requests first', [hourly, sessions]],
    ['sessions first', [sessions, hourly]],
  ])('is the one with the latest retry time, named by reason, wait and headers alike (%s)', (_, order) => {
    const decision = decide(order, states, demand, NOW);
    const response = buildDecisionResponse(decision);
    const waits = decision.verdicts.filter((v) => !v.admitted).map((v) => v.retryAfterMs);
    expect(waits).toHaveLength(2);
    expect(waits).toEqual(expect.arrayContaining([50 * 60_000, 4 * HOUR]));
    expect(decision.binding?.bucket.key).toBe(sessions.key);
    expect(response.body.retryAfterMs).toBe(4 * HOUR);
    expect(response.body.retryAfterMs).toBe(decisionRetryAfterMs(waits));
    expect(response.body.reason).toBe('user u-42: sessions 5h limit reached on all models');
    expect(response.headers).toEqual({
      'RateLimit-Policy': `"${sessions.key}";q=5;w=18000`,
      RateLimit: `"${sessions.key}";r=0;t=${4 * 3600}`,
      'Retry-After': String(4 * 3600),
    });
  });

  it.each([
    ['blocked first', true],
    ['blocked last', false],
  ])('is a bucket with no known time over any timed one (%s)', (_, blockedFirst) => {
    const blocked = bucket({
      metric: 'cost',
      slot: 'daily',
      kind: 'calendar',
      limit: 0,
      key: 'user:u-42|*|cost|daily',
      ...allModels,
    });
    const order = blockedFirst ? [blocked, hourly] : [hourly, blocked];
    const response = buildDecisionResponse(decide(order, states, { estimateMicros: 1 }, NOW));
    expect(response.body.retryAfterMs).toBeNull();
    expect(response.body.reason).toBe('user u-42: cost daily is blocked (limit 0) on all models');
    expect(response.headers).toEqual({
      'RateLimit-Policy': `"${blocked.key}";q=0;w=86400;qu="usd-micro"`,
      RateLimit: `"${blocked.key}";r=0`,
    });
  });

  it('is absent on an admitted answer, whose headers describe the tightest bucket', () => {
    const roomy = new Map<string, BucketState>([
      [hourly.key, { used: 1, held: 0, timeline: [{ at: NOW - 10 * 60_000, amount: 1 }] }],
      [sessions.key, { used: 1, held: 0, timeline: [{ at: NOW - HOUR, amount: 1 }] }],
    ]);
    const decision = decide([sessions, hourly], roomy, demand, NOW);
    expect(decision.binding).toBeNull();
    expect(buildDecisionResponse(decision).headers['RateLimit']).toBe(`"${hourly.key}";r=1;t=${50 * 60}`);
  });
});
