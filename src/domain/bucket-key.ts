import type { BucketSubjectType, Metric } from './types.js';

/**
 * The display key of a bucket (SPEC §4.3): `user:u-42|g3|cost|5h`, `key:k-9|*|requests|1m`.
 * Owner ids are percent-encoded (encodeURIComponent), so `|`, `:`, `%`, `\`, braces,
 * quotes and non-ASCII can never forge another bucket's key; the result is plain ASCII,
 * safe in Redis keys and HTTP header strings. Ordinary ids (`u-42`) read unchanged.
 */
export function bucketKey(
  axis: BucketSubjectType,
  ownerId: string,
  modelGroupId: number | null,
  metric: Metric,
  slot: string,
): string {
  return `${axis}:${encodeURIComponent(ownerId)}|${scopeKey(modelGroupId)}|${metric}|${slot}`;
}

/** `g3` for model group 3, `*` for all models. */
export function scopeKey(modelGroupId: number | null): string {
  return modelGroupId === null ? '*' : `g${modelGroupId}`;
}

/**
 * The axis and owner a display key names (bucketKey's inverse for its first part), or null
 * for a key bucketKey did not make.
 */
export function bucketOwner(key: string): { axis: BucketSubjectType; ownerId: string } | null {
  const match = /^(user|key):([^|]*)\|/.exec(key);
  if (!match) return null;
  try {
    return { axis: match[1] as BucketSubjectType, ownerId: decodeURIComponent(match[2] as string) };
  } catch {
    return null;
  }
}
