import { describe, expect, it } from 'vitest';
import { bucketKey } from '../../src/domain/bucket-key.js';
import { resolveBuckets, type Bucket, type BucketRequest } from '../../src/domain/buckets.js';
import type { SnapshotRows } from '../../src/snapshot/snapshot.js';
import { boost, limit, ms, snapshot, USD } from './fixtures.js';

const NOW = ms('2027-01-04T12:00:00Z');
const OPTIONS = { defaultTimezone: 'UTC' };
const OPUS: BucketRequest = { userId: 'u-42', keyId: 'k-9', model: 'claude-opus-4-1' };

function resolve(rows: Partial<SnapshotRows>, request: BucketRequest = OPUS, now = NOW) {
  return resolveBuckets(snapshot(rows), request, now, OPTIONS);
}

const keys = (buckets: Bucket[]) => buckets.map((b) => b.key);

describe('bucket resolution', () => {
  it('collects the user, its stored groups and the key on the model group and all models', () => {
    const { buckets, modelGroup } = resolve({
      limits: [
        limit({ metric: 'cost', cap: 10 * USD, modelGroupId: 3 }),
        limit({ metric: 'requests', cap: 100, window: '1m', subjectType: 'user_group', subjectId: '7' }),
        limit({ metric: 'requests', cap: 5, window: '1m', subjectType: 'key', subjectId: 'k-9' }),
        limit({ metric: 'cost', cap: 1, modelGroupId: 4 }),
        limit({ metric: 'cost', cap: 1, subjectId: 'someone-else' }),
      ],
    });
    expect(modelGroup).toEqual({ id: 3, name: 'opus' });
    expect(keys(buckets)).toEqual([
      'user:u-42|g3|cost|5h',
      'user:u-42|*|requests|1m',
      'key:k-9|*|requests|1m',
    ]);
  });

  it('names a group limit by the group id as a string', () => {
    const group = limit({
      metric: 'requests',
      cap: 100,
      window: '1m',
      subjectType: 'user_group',
      subjectId: '7',
    });
    const [only] = resolve({ limits: [group] }).buckets;
    expect(only?.source).toEqual({ subjectType: 'user_group', subjectId: '7', limitId: group.id });
    expect(only?.ownerId).toBe('u-42');
  });

  it('applies only all-models limits to a model in no group', () => {
    const result = resolve(
      { limits: [limit({ metric: 'cost', cap: 1, modelGroupId: 3 }), limit({ metric: 'cost', cap: 2 })] },
      { userId: 'u-42', model: 'gpt-unknown' },
    );
    expect(result.modelGroup).toBeNull();
    expect(keys(result.buckets)).toEqual(['user:u-42|*|cost|5h']);
  });

  it('lists every scope when no model is given', () => {
    const result = resolve(
      {
        limits: [
          limit({ metric: 'cost', cap: 1, modelGroupId: 3 }),
          limit({ metric: 'cost', cap: 2, modelGroupId: 4 }),
        ],
      },
      { userId: 'u-42' },
    );
    expect(keys(result.buckets)).toEqual(['user:u-42|g3|cost|5h', 'user:u-42|g4|cost|5h']);
  });

  it('has no key axis without a key id and no bucket without limits', () => {
    const keyLimit = limit({
      metric: 'requests',
      cap: 5,
      window: '1m',
      subjectType: 'key',
      subjectId: 'k-9',
    });
    expect(resolve({ limits: [keyLimit] }, { userId: 'u-42', model: 'claude-opus-4-1' }).buckets).toEqual([]);
  });

  it('carries what a store needs: window, range, caps, counting and the reset marker', () => {
    const marker = NOW - 60_000;
    const [b] = resolve({
      limits: [limit({ metric: 'requests', cap: 50, window: '1m' })],
      resetMarkers: [
        {
          subjectType: 'user',
          subjectId: 'u-42',
          modelGroupId: null,
          metric: 'requests',
          slot: '1m',
          resetAt: marker,
        },
      ],
    }).buckets;
    expect(b).toMatchObject({
      window: { kind: 'rolling', lengthMs: 60_000 },
      range: { start: NOW - 60_000 + 1, end: null },
      resetMarker: marker,
      limit: 50,
      effectiveLimit: 50,
      counting: { mode: 'log', lengthMs: 60_000, floor: marker },
    });
  });
});

describe('request-named groups', () => {
  it('adds the limits of groups named in the request', () => {
    const vip = limit({ metric: 'cost', cap: 50 * USD, subjectType: 'user_group', subjectId: '9' });
    const { buckets } = resolve({ limits: [vip] }, { ...OPUS, groups: ['vip'] });
    expect(buckets[0]?.source.subjectId).toBe('9');
  });

  it('ignores unknown group names', () => {
    const vip = limit({ metric: 'cost', cap: 50 * USD, subjectType: 'user_group', subjectId: '9' });
    expect(resolve({ limits: [vip] }, { ...OPUS, groups: ['nope', 'VIP'] }).buckets).toEqual([]);
  });
});

describe('merging candidates', () => {
  it('takes the largest cap and the winner’s window', () => {
    const own = limit({ metric: 'cost', cap: 10 * USD, window: 'daily' });
    const group = limit({
      metric: 'cost',
      cap: 15 * USD,
      window: 'daily',
      subjectType: 'user_group',
      subjectId: '7',
      timezone: 'Asia/Shanghai',
    });
    const [b] = resolve({ limits: [own, group] }).buckets;
    expect(b).toMatchObject({ limit: 15 * USD, source: { subjectType: 'user_group', subjectId: '7' } });
    expect(b?.window.timezone).toBe('Asia/Shanghai');
  });

  it('prefers the user’s own limit over a group at an equal cap', () => {
    const group = limit({
      metric: 'cost',
      cap: 10 * USD,
      subjectType: 'user_group',
      subjectId: '7',
      reset: 'fixed',
    });
    const own = limit({ metric: 'cost', cap: 10 * USD });
    const [b] = resolve({ limits: [group, own] }).buckets;
    expect(b?.source).toEqual({ subjectType: 'user', subjectId: 'u-42', limitId: own.id });
    expect(b?.window.kind).toBe('rolling');
  });

  it('prefers the smaller group id between groups at an equal cap', () => {
    const pro = limit({ metric: 'cost', cap: 10 * USD, subjectType: 'user_group', subjectId: '7' });
    const team = limit({
      metric: 'cost',
      cap: 10 * USD,
      subjectType: 'user_group',
      subjectId: '2',
      reset: 'fixed',
    });
    const [b] = resolve({ limits: [pro, team] }, { ...OPUS, groups: ['team'] }).buckets;
    expect(b?.source.subjectId).toBe('2');
    expect(b?.window.kind).toBe('fixed');
  });

  it('merges windows written differently into one slot', () => {
    const own = limit({ metric: 'cost', cap: 1 * USD, window: '300m', slot: '5h' });
    const group = limit({
      metric: 'cost',
      cap: 2 * USD,
      window: '5h',
      subjectType: 'user_group',
      subjectId: '7',
    });
    expect(resolve({ limits: [own, group] }).buckets).toHaveLength(1);
  });
});

describe('cost split', () => {
  const limits = [
    limit({ metric: 'cost', cap: 10 * USD, modelGroupId: 3 }),
    limit({ metric: 'cost', cap: 20 * USD, window: 'daily' }),
    limit({ metric: 'requests', cap: 100, window: '1m' }),
    limit({ metric: 'cost', cap: 5 * USD, window: 'daily', subjectType: 'key', subjectId: 'k-9' }),
  ];

  it('drops the user axis’s all-models cost buckets when it has a cost limit on the group', () => {
    const result = resolve({ limits });
    expect(keys(result.buckets)).toEqual([
      'user:u-42|g3|cost|5h',
      'user:u-42|*|requests|1m',
      'key:k-9|*|cost|daily',
    ]);
    expect(result.countedInUserGlobal).toBe(false);
    expect(result.countedInKeyGlobal).toBe(true);
  });

  it('keeps all-models cost buckets for a model outside the group', () => {
    const result = resolve({ limits }, { ...OPUS, model: 'z-ai/glm-5.1' });
    expect(keys(result.buckets)).toContain('user:u-42|*|cost|daily');
    expect(result.countedInUserGlobal).toBe(true);
  });

  it('lets the key axis split on its own', () => {
    const keyOnGroup = limit({
      metric: 'cost',
      cap: 1 * USD,
      modelGroupId: 3,
      subjectType: 'key',
      subjectId: 'k-9',
    });
    const result = resolve({ limits: [...limits, keyOnGroup] });
    expect(keys(result.buckets).filter((k) => k.startsWith('key:'))).toEqual(['key:k-9|g3|cost|5h']);
    expect(result.countedInKeyGlobal).toBe(false);
  });

  it('reports nothing counted globally when no all-models cost bucket exists', () => {
    const result = resolve({ limits: [limit({ metric: 'requests', cap: 1, window: '1m' })] });
    expect(result).toMatchObject({ countedInUserGlobal: false, countedInKeyGlobal: false });
  });
});

describe('boosts', () => {
  const startsAt = ms('2027-01-04T12:00:00Z');
  const expiresAt = ms('2027-01-04T18:00:00Z');
  const rows = {
    limits: [limit({ metric: 'cost', cap: 10 * USD, modelGroupId: 3 })],
    boosts: [
      boost({ amount: 5 * USD, modelGroupId: 3, startsAt, expiresAt }),
      boost({ amount: 1 * USD, modelGroupId: 3, startsAt: 0, expiresAt }),
    ],
  };

  it('adds up active boosts from their exact start', () => {
    const [b] = resolve(rows, OPUS, startsAt).buckets;
    expect(b).toMatchObject({ limit: 10 * USD, boost: 6 * USD, effectiveLimit: 16 * USD });
  });

  it('stops a boost at its exact expiry', () => {
    expect(resolve(rows, OPUS, expiresAt).buckets[0]?.boost).toBe(0);
    expect(resolve(rows, OPUS, startsAt - 1).buckets[0]?.boost).toBe(1 * USD);
  });

  it('has no effect without a matching bucket, including a bucket dropped by the cost split', () => {
    const stray = [
      boost({ amount: 5 * USD, modelGroupId: null, startsAt, expiresAt }),
      boost({ amount: 5 * USD, modelGroupId: 3, slot: 'daily', window: 'daily', startsAt, expiresAt }),
      boost({ amount: 5 * USD, modelGroupId: 3, subjectType: 'key', subjectId: 'k-9', startsAt, expiresAt }),
    ];
    const result = resolve({ limits: [...rows.limits, limit({ metric: 'cost', cap: 1 })], boosts: stray });
    expect(result.buckets.map((b) => [b.key, b.boost])).toEqual([['user:u-42|g3|cost|5h', 0]]);
  });

  it('applies key boosts on the key axis', () => {
    const result = resolve({
      limits: [limit({ metric: 'requests', cap: 10, window: '1m', subjectType: 'key', subjectId: 'k-9' })],
      boosts: [
        boost({
          amount: 5,
          metric: 'requests',
          window: '1m',
          slot: '1m',
          subjectType: 'key',
          subjectId: 'k-9',
          startsAt,
          expiresAt,
        }),
      ],
    });
    expect(result.buckets[0]).toMatchObject({ key: 'key:k-9|*|requests|1m', effectiveLimit: 15 });
  });

  it('switches a rolling count to slices when the boost lifts it over 1000', () => {
    const result = resolve({
      limits: [limit({ metric: 'requests', cap: 1000, window: '1m' })],
      boosts: [boost({ amount: 1, metric: 'requests', window: '1m', slot: '1m', startsAt, expiresAt })],
    });
    expect(result.buckets[0]?.counting).toEqual({
      mode: 'slices',
      lengthMs: 60_000,
      sliceMs: 1000,
      floor: 0,
    });
  });
});

describe('bucket keys', () => {
  it('formats the display key of SPEC §4.3', () => {
    expect(bucketKey('user', 'u-42', 3, 'cost', '5h')).toBe('user:u-42|g3|cost|5h');
    expect(bucketKey('key', 'k-9', null, 'requests', '1m')).toBe('key:k-9|*|requests|1m');
  });

  it('escapes separators so ids cannot collide', () => {
    const forged = bucketKey('user', 'a|g3|cost|5h', null, 'cost', '5h');
    expect(forged).not.toContain('a|g3');
    expect(bucketKey('user', 'a:b', null, 'cost', '5h')).not.toBe(
      bucketKey('user', 'a%3Ab', null, 'cost', '5h'),
    );
    expect(bucketKey('user', 'ü"\\{x}', null, 'cost', '5h')).toMatch(/^[\x21-\x7e]+$/);
  });
});
