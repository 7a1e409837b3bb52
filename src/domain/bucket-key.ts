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

/** The parts of a display key (bucketKey's inverse). */
export interface BucketKeyParts {
  axis: BucketSubjectType;
  ownerId: string;
  modelGroupId: number | null;
  /** As written; a Metric in every key bucketKey made (not checked: a reader needs only the text). */
  metric: string;
  slot: string;
}

const KEY_PATTERN = /^(user|key):([^|]*)\|(\*|g\d+)\|([^|]+)\|([^|]+)$/;

/**
 * Reads a display key back into its parts, or null for a key bucketKey did not make. The
 * one reader of keys: owners are percent-encoded, so `|` only ever separates parts. SQL
 * that must read a key's metric (the ledger statement's split_part) is held to this by
 * test/ledger/first-use-sql.test.ts.
 */
export function parseBucketKey(key: string): BucketKeyParts | null {
  const match = KEY_PATTERN.exec(key);
  if (!match) return null;
  const [, axis = '', owner = '', scope = '', metric = '', slot = ''] = match;
  let ownerId: string;
  try {
    ownerId = decodeURIComponent(owner);
  } catch {
    return null;
  }
  const modelGroupId = scope === '*' ? null : Number(scope.slice(1));
  return { axis: axis as BucketSubjectType, ownerId, modelGroupId, metric, slot };
}

/** The axis and owner a display key names, or null for a key bucketKey did not make. */
export function bucketOwner(key: string): { axis: BucketSubjectType; ownerId: string } | null {
  const parts = parseBucketKey(key);
  return parts === null ? null : { axis: parts.axis, ownerId: parts.ownerId };
}
