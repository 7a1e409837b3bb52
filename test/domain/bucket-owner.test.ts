import { describe, expect, it } from 'vitest';
import { bucketKey, bucketOwner, parseBucketKey } from '../../src/domain/bucket-key.js';

describe('bucketOwner', () => {
  it.each([
    ['user', 'u-42'],
    ['key', 'k|9:{x}%'],
    ['user', 'ünï cødé'],
  ] as const)('reads back the %s owner %j of a display key', (axis, ownerId) => {
    expect(bucketOwner(bucketKey(axis, ownerId, 3, 'cost', '5h'))).toEqual({ axis, ownerId });
  });

  it('names no owner for a key it did not make', () => {
    expect(bucketOwner('group:7|*|cost|5h')).toBeNull();
    expect(bucketOwner('user:%E0%A4%A|*|cost|5h')).toBeNull();
  });
});

describe('parseBucketKey', () => {
  it.each([
    ['user', 'u-42', 3, 'cost', '5h'],
    ['key', 'k|9:{x}%', null, 'requests', '1m'],
    ['user', 'a|b|cost|5h', null, 'tokens', 'daily'],
  ] as const)('reads back every part of a %s key of %j', (axis, ownerId, modelGroupId, metric, slot) => {
    expect(parseBucketKey(bucketKey(axis, ownerId, modelGroupId, metric, slot))).toEqual({
      axis,
      ownerId,
      modelGroupId,
      metric,
      slot,
    });
  });

  it('reads no key bucketKey did not make', () => {
    for (const key of ['user:u|*|cost', 'group:7|*|cost|5h', 'user:u|x|cost|5h', 'user:u|*|cost|5h|x']) {
      expect(parseBucketKey(key)).toBeNull();
    }
  });
});
