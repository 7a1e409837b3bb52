import { describe, expect, it } from 'vitest';
import { createBucketResolver } from '../../src/decisions/bucket-resolver.js';
import { resolveBuckets, type BucketRequest } from '../../src/domain/buckets.js';
import type { ConfigSnapshot } from '../../src/snapshot/snapshot.js';
import { boost, limit, ms, snapshot, USD } from '../domain/fixtures.js';

const OPTIONS = { defaultTimezone: 'Europe/Berlin' };
const OPUS: BucketRequest = { userId: 'u-42', keyId: 'k-9', model: 'claude-opus-4-1', groups: ['vip'] };
const BOOST_START = ms('2027-01-04T12:00:00Z');
const BOOST_END = ms('2027-01-04T18:00:00Z');

/** Every kind of window, boosts that start and end, a reset marker and a group named in the request. */
const config = snapshot({
  limits: [
    limit({ metric: 'cost', cap: 10 * USD, modelGroupId: 3 }),
    limit({ metric: 'cost', cap: 50 * USD, window: 'daily', reset: 'calendar' }),
    limit({
      metric: 'cost',
      cap: 80 * USD,
      window: 'weekly',
      reset: 'fixed',
      anchor: ms('2026-12-28T06:00:00Z'),
    }),
    limit({ metric: 'requests', cap: 30, window: '1m' }),
    limit({ metric: 'sessions', cap: 3, window: '20h', reset: 'first_use' }),
    limit({ metric: 'concurrency', cap: 2 }),
    limit({ metric: 'requests', cap: 500, window: '1m', subjectType: 'user_group', subjectId: '9' }),
    limit({ metric: 'cost', cap: 5 * USD, window: 'daily', subjectType: 'key', subjectId: 'k-9' }),
  ],
  boosts: [
    boost({ amount: 5 * USD, modelGroupId: 3, startsAt: BOOST_START, expiresAt: BOOST_END }),
    boost({ amount: 7, metric: 'requests', window: '1m', slot: '1m', startsAt: 0, expiresAt: BOOST_END }),
  ],
  resetMarkers: [
    {
      subjectType: 'user',
      subjectId: 'u-42',
      modelGroupId: 3,
      metric: 'cost',
      slot: '5h',
      resetAt: BOOST_START - 1,
    },
  ],
});

function resolverOn(initial: ConfigSnapshot, maxPlans?: number) {
  let current = initial;
  const resolve = createBucketResolver(() => current, OPTIONS, maxPlans);
  return { resolve, swap: (next: ConfigSnapshot) => (current = next) };
}

describe('bucket resolution remembered per snapshot', () => {
  it('answers what a fresh resolution answers at every instant, boosts and windows judged each time', () => {
    const { resolve } = resolverOn(config);
    const instants = [
      BOOST_START - 1,
      BOOST_START,
      BOOST_START + 3_600_000,
      BOOST_END - 1,
      BOOST_END,
      ms('2027-01-04T22:59:59.999Z'), // the last instant of the Berlin day
      ms('2027-01-04T23:00:00Z'), // the next Berlin day
      ms('2027-01-11T05:59:59.999Z'), // the fixed week's last instant
      ms('2027-01-11T06:00:00Z'),
      BOOST_START, // back in time: nothing of a later call sticks
    ];
    for (const now of instants) {
      expect(resolve(OPUS, now), new Date(now).toISOString()).toEqual(
        resolveBuckets(config, OPUS, now, OPTIONS),
      );
    }
    expect(resolve(OPUS, BOOST_START).buckets[0]).toMatchObject({ boost: 5 * USD, effectiveLimit: 15 * USD });
    expect(resolve(OPUS, BOOST_END).buckets[0]).toMatchObject({ boost: 0, effectiveLimit: 10 * USD });
  });

  it("serves a reloaded snapshot's limits, never the plan of the one before", () => {
    const { resolve, swap } = resolverOn(config);
    const now = BOOST_END;
    expect(resolve(OPUS, now).buckets[0]?.effectiveLimit).toBe(10 * USD);
    const raised = snapshot({ limits: [limit({ metric: 'cost', cap: 20 * USD, modelGroupId: 3 })] });
    swap(raised);
    expect(resolve(OPUS, now)).toEqual(resolveBuckets(raised, OPUS, now, OPTIONS));
    expect(resolve(OPUS, now).buckets.map((b) => b.effectiveLimit)).toEqual([20 * USD]);
  });

  it('keeps apart requests that differ only in key, model, scope or groups', () => {
    const { resolve } = resolverOn(config);
    const now = BOOST_START;
    const requests: BucketRequest[] = [
      OPUS,
      { ...OPUS, keyId: null },
      { ...OPUS, groups: [] },
      { ...OPUS, model: 'gpt-unknown' },
      { ...OPUS, model: '' }, // a model in no group
      { ...OPUS, model: null }, // every scope (/usage without a model)
      { userId: 'u-42k-9', keyId: null, model: 'claude-opus-4-1' },
      { userId: 'u-42', keyId: 'k-9claude-opus-4-1', model: '' },
    ];
    // Each asked twice, interleaved: the second answer comes from the remembered plan.
    for (const request of [...requests, ...requests]) {
      expect(resolve(request, now)).toEqual(resolveBuckets(config, request, now, OPTIONS));
    }
  });

  it('still answers right after it starts over at its bound', () => {
    const { resolve } = resolverOn(config, 2);
    const now = BOOST_START;
    for (const userId of ['u-1', 'u-42', 'u-3', 'u-42', 'u-5', 'u-42']) {
      const request = { ...OPUS, userId };
      expect(resolve(request, now)).toEqual(resolveBuckets(config, request, now, OPTIONS));
    }
  });

  it('cannot be changed through an answer it gave', () => {
    const { resolve } = resolverOn(config);
    const now = BOOST_START;
    const first = resolve(OPUS, now);
    const bucket = first.buckets[0];
    if (!bucket) throw new Error('no bucket');
    bucket.effectiveLimit = 1;
    bucket.counting = { mode: 'concurrency' };
    first.buckets.reverse();
    expect(() => Object.assign(bucket.window, { slot: '1m' })).toThrow(TypeError);
    expect(() => Object.assign(bucket.source, { limitId: 0 })).toThrow(TypeError);
    expect(resolve(OPUS, now)).toEqual(resolveBuckets(config, OPUS, now, OPTIONS));
  });
});
