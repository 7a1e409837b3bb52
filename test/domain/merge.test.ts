import { describe, expect, it } from 'vitest';
import type { BucketState } from '../../src/domain/bucket-state.js';
import { resolveBuckets, type BucketRequest } from '../../src/domain/buckets.js';
import { decide } from '../../src/domain/decide.js';
import { buildDecisionResponse } from '../../src/domain/decision.js';
import { mergeLimits } from '../../src/domain/merge.js';
import type { LimitRecord } from '../../src/domain/types.js';
import type { SnapshotRows } from '../../src/snapshot/snapshot.js';
import { limit, ms, snapshot, USD } from './fixtures.js';

/** SPEC §3 with the defaults (`everyone`, §9.1) and overrides (§9.3) of the user axis. */
const NOW = ms('2027-01-04T12:00:00Z');
const OPUS: BucketRequest = { userId: 'u-42', keyId: 'k-9', model: 'claude-opus-4-1' };

function resolve(rows: Partial<SnapshotRows>, request: BucketRequest = OPUS) {
  return resolveBuckets(snapshot(rows), request, NOW, { defaultTimezone: 'UTC' });
}

const everyone = (cap: number, extra: Partial<LimitRecord> = {}) =>
  limit({ metric: 'cost', cap, subjectType: 'everyone', subjectId: '*', ...extra });
const pro = (cap: number) => limit({ metric: 'cost', cap, subjectType: 'user_group', subjectId: '7' });
const own = (cap: number, override = false) => limit({ metric: 'cost', cap, override });

const nothingSpent: BucketState = { used: 0, held: 0, timeline: [] };

describe('everyone: a default cap on every user axis', () => {
  it('gives a user with no limit of their own the default, on their own counter', () => {
    const def = everyone(5 * USD);
    const [b, ...rest] = resolve({ limits: [def] }, { userId: 'u-1', model: 'claude-opus-4-1' }).buckets;
    expect(rest).toEqual([]);
    expect(b).toMatchObject({
      key: 'user:u-1|*|cost|5h',
      axis: 'user',
      ownerId: 'u-1',
      limit: 5 * USD,
      source: { subjectType: 'everyone', subjectId: '*', limitId: def.id },
    });
  });

  it('is never a candidate of the key axis', () => {
    const keyLimit = limit({ metric: 'cost', cap: 1 * USD, subjectType: 'key', subjectId: 'k-9' });
    const keyBucket = resolve({ limits: [everyone(50 * USD), keyLimit] }).buckets.find(
      (b) => b.axis === 'key',
    );
    expect(keyBucket).toMatchObject({ limit: 1 * USD, source: { subjectType: 'key' } });
  });

  it('loses to a larger group cap and beats a smaller one', () => {
    expect(resolve({ limits: [everyone(5 * USD), pro(10 * USD)] }).buckets[0]?.source.subjectType).toBe(
      'user_group',
    );
    expect(resolve({ limits: [everyone(20 * USD), pro(10 * USD)] }).buckets[0]?.source.subjectType).toBe(
      'everyone',
    );
  });

  it('ranks after every user group and the user’s own limit at an equal cap', () => {
    const def = everyone(10 * USD, { reset: 'fixed' });
    const group = pro(10 * USD);
    const [b] = resolve({ limits: [def, group] }).buckets;
    expect(b?.source).toMatchObject({ subjectType: 'user_group', subjectId: '7' });
    expect(b?.window.kind).toBe('rolling');
    const [c] = resolve({ limits: [def, own(10 * USD)] }).buckets;
    expect(c?.source.subjectType).toBe('user');
  });

  it('ranks after a group whatever the order of the candidates', () => {
    const def = everyone(10 * USD);
    const group = pro(10 * USD);
    for (const order of [
      [def, group],
      [group, def],
    ]) {
      expect(mergeLimits('user', order)[0]?.winner).toBe(group);
    }
  });

  it('names the default in the refusal reason', () => {
    const def = everyone(5 * USD);
    const { buckets } = resolve({ limits: [def] });
    const spent: BucketState = { used: 5 * USD, held: 0, timeline: [{ at: NOW - 1000, amount: 5 * USD }] };
    const response = buildDecisionResponse(
      decide(buckets, new Map([[buckets[0]!.key, spent]]), { estimateMicros: 0 }, NOW),
    );
    expect(response.body.reason).toBe(
      `user u-42: cost 5h limit reached on all models; cap from the default limit ${def.id} (everyone)`,
    );
  });
});

describe('override: the user’s own cap, not merged', () => {
  it('wins when lower than every group and default', () => {
    const mine = own(1 * USD, true);
    const [b] = resolve({ limits: [pro(10 * USD), everyone(20 * USD), mine] }).buckets;
    expect(b).toMatchObject({ limit: 1 * USD, source: { subjectType: 'user', limitId: mine.id } });
  });

  it('wins when higher, with its own window', () => {
    const mine = limit({ metric: 'cost', cap: 50 * USD, override: true, reset: 'fixed' });
    const [b] = resolve({ limits: [mine, pro(10 * USD)] }).buckets;
    expect(b).toMatchObject({ limit: 50 * USD, source: { limitId: mine.id } });
    expect(b?.window.kind).toBe('fixed');
  });

  it('is merged like any own limit when not an override', () => {
    const [b] = resolve({ limits: [own(1 * USD), pro(10 * USD)] }).buckets;
    expect(b).toMatchObject({ limit: 10 * USD, source: { subjectType: 'user_group' } });
  });

  it('acts on its own scope, metric and slot only', () => {
    const mine = limit({ metric: 'cost', cap: 1 * USD, override: true, window: 'daily' });
    const caps = resolve({ limits: [mine, pro(10 * USD)] }).buckets.map((b) => [b.window.slot, b.limit]);
    expect(caps).toEqual([
      ['5h', 10 * USD],
      ['daily', 1 * USD],
    ]);
  });

  it('is ignored on anything but a user limit (the admin API refuses one)', () => {
    const group = limit({
      metric: 'cost',
      cap: 1 * USD,
      subjectType: 'user_group',
      subjectId: '7',
      override: true,
    });
    const [b] = resolve({ limits: [group, everyone(5 * USD)] }).buckets;
    expect(b?.limit).toBe(5 * USD);
  });

  it('blocks at 0: every request in scope refused, naming the override', () => {
    const block = limit({ metric: 'requests', cap: 0, window: '1m', override: true, modelGroupId: 3 });
    const rows = {
      limits: [
        block,
        limit({
          metric: 'requests',
          cap: 100,
          window: '1m',
          subjectType: 'user_group',
          subjectId: '7',
          modelGroupId: 3,
        }),
      ],
    };
    const { buckets } = resolve(rows);
    expect(buckets.map((b) => [b.key, b.effectiveLimit])).toEqual([['user:u-42|g3|requests|1m', 0]]);
    const states = new Map([[buckets[0]!.key, nothingSpent]]);
    const response = buildDecisionResponse(decide(buckets, states, { estimateMicros: 0 }, NOW));
    expect(response.statusCode).toBe(429);
    expect(response.body.reason).toBe(
      `user u-42: requests 1m is blocked (limit 0) on group 3 (opus); cap from override limit ${block.id}`,
    );
    expect(response.body.buckets[0]?.source).toEqual({
      subjectType: 'user',
      subjectId: 'u-42',
      limitId: block.id,
    });
    expect(resolve(rows, { userId: 'u-42', model: 'z-ai/glm-5.1' }).buckets).toEqual([]);
  });
});
