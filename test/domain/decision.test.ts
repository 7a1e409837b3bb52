import { describe, expect, it } from 'vitest';
import type { BucketState } from '../../src/domain/bucket-state.js';
import { decide } from '../../src/domain/decide.js';
import { buildDecisionResponse, failOpenResponse } from '../../src/domain/decision.js';
import { resolveBuckets } from '../../src/domain/buckets.js';
import { bucket, limit, ms, snapshot, USD } from './fixtures.js';

const NOW = ms('2027-01-04T12:00:00Z');
const SLICE = 300_000;

/** SPEC §4.3's example: a group's $10 5h limit with a $5 boost, $15.20 spent. */
const opusCost = bucket({
  metric: 'cost',
  limit: 10 * USD,
  boost: 5 * USD,
  source: { subjectType: 'user_group', subjectId: '7', limitId: 12 },
  sourceGroupName: 'pro',
});
// The oldest slice starts 3 h 35 min ago: its last instant leaves the 5 h window in 1 h 30 min.
const spent: BucketState = {
  used: 15_200_000,
  held: 0,
  timeline: [
    { at: NOW - 12_900_000, amount: 15 * USD },
    { at: NOW - SLICE, amount: 200_000 },
  ],
};

function respond(buckets = [opusCost], states = new Map([[opusCost.key, spent]]), estimateMicros = 0) {
  return buildDecisionResponse(decide(buckets, states, { estimateMicros }, NOW), { requestId: 'r-1' });
}

describe('refused responses', () => {
  it('carries the evidence of SPEC §4.3, money in dollars', () => {
    const response = respond();
    expect(response.statusCode).toBe(429);
    expect(response.body).toEqual({
      allowed: false,
      status: 'rate_limited',
      requestId: 'r-1',
      reservation: null,
      retryAfterMs: 5_399_999,
      reason: 'user u-42: cost 5h limit reached on group 3 (opus); cap from user group 7 (pro)',
      buckets: [
        {
          key: 'user:u-42|g3|cost|5h',
          axis: 'user',
          ownerId: 'u-42',
          modelGroupId: 3,
          metric: 'cost',
          window: '5h',
          reset: 'rolling',
          limit: 10,
          boost: 5,
          effectiveLimit: 15,
          used: 15.2,
          held: 0,
          remaining: 0,
          resetAt: null,
          // The oldest slice's last instant leaves the window: the same instant as the retry.
          nextFreeAt: '2027-01-04T13:29:59.999Z',
          retryAfterMs: 5_399_999,
          exceeded: true,
          shadow: false,
          source: { subjectType: 'user_group', subjectId: '7', limitId: 12 },
        },
      ],
      shadowRefused: [],
      failOpen: false,
    });
  });

  it('sends the RateLimit headers in micro-dollars and a Retry-After rounded up', () => {
    expect(respond().headers).toEqual({
      'RateLimit-Policy': '"user:u-42|g3|cost|5h";q=15000000;w=18000;qu="usd-micro"',
      RateLimit: '"user:u-42|g3|cost|5h";r=0;t=5400',
      'Retry-After': '5400',
    });
  });

  it('takes the name of the user group whose limit set the cap from the config snapshot', () => {
    const pro = limit({
      metric: 'requests',
      cap: 1,
      window: '1m',
      subjectType: 'user_group',
      subjectId: '7',
    });
    const { buckets } = resolveBuckets(
      snapshot({ limits: [pro] }),
      { userId: 'u-42', model: 'claude-opus-4-1' },
      NOW,
      { defaultTimezone: 'UTC' },
    );
    const states = new Map(buckets.map((b): [string, BucketState] => [b.key, { used: 1, held: 0 }]));
    expect(respond(buckets, states).body.reason).toBe(
      'user u-42: requests 1m limit reached on all models; cap from user group 7 (pro)',
    );
  });

  it('names the user group whose limit set the cap, by id alone once the group is gone', () => {
    const gone = bucket({ ...opusCost, sourceGroupName: null });
    expect(respond([gone], new Map([[gone.key, spent]])).body.reason).toBe(
      'user u-42: cost 5h limit reached on group 3 (opus); cap from user group 7',
    );
  });

  it('names no user group when the user’s own limit set the cap', () => {
    const own = bucket({ ...opusCost, source: { subjectType: 'user', subjectId: 'u-42', limitId: 3 } });
    expect(respond([own], new Map([[own.key, spent]])).body.reason).toBe(
      'user u-42: cost 5h limit reached on group 3 (opus)',
    );
  });

  it('names all models and a blocked limit in the reason', () => {
    const blocked = bucket({
      metric: 'requests',
      slot: '1m',
      limit: 0,
      modelGroupId: null,
      key: 'user:u-42|*|requests|1m',
    });
    const response = respond([blocked], new Map());
    expect(response.body.reason).toBe('user u-42: requests 1m is blocked (limit 0) on all models');
    expect(response.body.retryAfterMs).toBeNull();
    expect(response.headers['Retry-After']).toBeUndefined();
  });

  it('waits for the slowest refusing bucket and describes it in the headers too', () => {
    const daily = bucket({
      metric: 'requests',
      slot: 'daily',
      kind: 'calendar',
      limit: 1,
      key: 'user:u-42|g3|requests|daily',
    });
    const minute = bucket({ metric: 'requests', slot: '1m', limit: 1, key: 'user:u-42|g3|requests|1m' });
    const states = new Map<string, BucketState>([
      [daily.key, { used: 1, held: 0 }],
      [minute.key, { used: 1, held: 0, timeline: [{ at: NOW - 58_500, amount: 1 }] }],
    ]);
    const response = respond([minute, daily], states);
    expect(response.body.retryAfterMs).toBe(12 * 3_600_000);
    expect(response.body.reason).toContain('requests daily');
    expect(response.headers).toEqual({
      'RateLimit-Policy': '"user:u-42|g3|requests|daily";q=1;w=86400',
      RateLimit: `"user:u-42|g3|requests|daily";r=0;t=${12 * 3_600}`,
      'Retry-After': String(12 * 3_600),
    });
  });
});

describe('allowed responses', () => {
  it('answers 200 with the reservation and no Retry-After', () => {
    const decision = decide(
      [opusCost],
      new Map([[opusCost.key, { used: 1, held: 0 }]]),
      { estimateMicros: 1 },
      NOW,
    );
    const response = buildDecisionResponse(decision, {
      requestId: 'r-2',
      reservation: { state: 'held', expiresAt: NOW + 600_000 },
    });
    expect(response.statusCode).toBe(200);
    expect(response.body).toMatchObject({
      allowed: true,
      status: 'ok',
      retryAfterMs: null,
      reason: null,
      reservation: { state: 'held', expiresAt: '2027-01-04T12:10:00.000Z' },
    });
    expect(response.body.buckets[0]).toMatchObject({ used: 0.000001, remaining: 14.999999, exceeded: false });
    expect(response.headers['Retry-After']).toBeUndefined();
  });

  it('allows a request with no bucket, without RateLimit headers', () => {
    const response = buildDecisionResponse(decide([], new Map(), { estimateMicros: 0 }, NOW));
    expect(response.body).toMatchObject({ allowed: true, buckets: [], requestId: null, reservation: null });
    expect(response.headers).toEqual({});
  });

  it('describes the bucket with the least remaining share', () => {
    const minute = bucket({ metric: 'requests', slot: '1m', limit: 10, key: 'user:u-42|g3|requests|1m' });
    const states = new Map<string, BucketState>([
      [opusCost.key, { used: 5 * USD, held: 0 }],
      [minute.key, { used: 8, held: 0, timeline: [{ at: NOW - 45_000, amount: 8 }] }],
    ]);
    const response = respond([opusCost, minute], states);
    expect(response.headers).toEqual({
      'RateLimit-Policy': '"user:u-42|g3|requests|1m";q=10;w=60',
      RateLimit: '"user:u-42|g3|requests|1m";r=2;t=15',
    });
  });

  it('shows calendar resets as ISO times and leaves t and w out where no window exists', () => {
    const daily = bucket({ metric: 'cost', slot: 'daily', kind: 'calendar', key: 'user:u-42|g3|cost|daily' });
    const total = bucket({
      metric: 'requests',
      slot: 'total',
      kind: 'total',
      limit: 4,
      key: 'user:u-42|g3|requests|total',
    });
    const states = new Map<string, BucketState>([[total.key, { used: 3, held: 0 }]]);
    const response = respond([daily, total], states);
    expect(response.body.buckets.map((b) => [b.reset, b.resetAt])).toEqual([
      ['calendar', '2027-01-05T00:00:00.000Z'],
      [null, null],
    ]);
    expect(response.headers).toEqual({
      'RateLimit-Policy': '"user:u-42|g3|requests|total";q=4',
      RateLimit: '"user:u-42|g3|requests|total";r=1',
    });
  });

  it('shows concurrency without a window', () => {
    const concurrency = bucket({
      metric: 'concurrency',
      slot: 'concurrent',
      limit: 3,
      key: 'key:k-9|*|concurrency|concurrent',
    });
    const [view] = respond([concurrency], new Map([[concurrency.key, { used: 1, held: 0 }]])).body.buckets;
    expect(view).toMatchObject({ window: null, reset: null, limit: 3, used: 1, remaining: 2 });
  });
});

describe('fail-open responses', () => {
  it('allows with failOpen and no buckets', () => {
    expect(failOpenResponse('r-9')).toEqual({
      statusCode: 200,
      headers: {},
      body: {
        allowed: true,
        status: 'ok',
        requestId: 'r-9',
        reservation: null,
        retryAfterMs: null,
        reason: null,
        buckets: [],
        shadowRefused: [],
        failOpen: true,
      },
    });
  });
});
