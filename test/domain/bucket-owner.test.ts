import { describe, expect, it } from 'vitest';
import { bucketKey, bucketOwner } from '../../src/domain/bucket-key.js';

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
