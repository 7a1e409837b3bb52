import { countingSignature } from '../bucket-plan.js';
import type { StoreBucket } from '../counter-store.js';
import { encodeId } from '../ids.js';

/**
 * Every Redis key quotagate writes, built here and nowhere else:
 *
 *   <prefix>:{<subject>}:warm               hash   warm flags of the subject's buckets
 *   <prefix>:{<subject>}:res:<request>      hash   reservation record
 *   <prefix>:{<subject>}:ap:<request>       hash   applied markers of a settle
 *   <prefix>:{<subject>}:u:<bucket>:<sig>   usage  (zset log | hash slices | hash counter)
 *   <prefix>:{<subject>}:a:<bucket>:<sig>   zset   active sessions -> activeUntil
 *   <prefix>:{<subject>}:h:<bucket>         hash   cost holds -> µ$, plus their sum
 *   <prefix>:{<subject>}:hx:<bucket>        zset   cost holds -> expiry
 *   <prefix>:{<subject>}:c:<bucket>         zset   concurrency slots -> expiry
 *   <prefix>:{r.<request>}:ptr              string request id -> subject
 *
 * Ids are base64url (ids.ts), so the `{…}` hash tag is exactly the encoded subject: every
 * key of one decision lands in one Cluster slot, and no id can close a tag or forge a
 * separator. `r.` keeps pointer tags apart from subject tags ('.' is not base64url).
 */
export type KeyOf =
  | { kind: 'warm'; subject: string }
  | { kind: 'record' | 'applied'; subject: string; requestId: string }
  | { kind: 'usage' | 'active'; subject: string; bucket: StoreBucket }
  | { kind: 'holds' | 'expiries' | 'slots'; subject: string; bucketId: string }
  | { kind: 'pointer'; requestId: string };

export function redisKey(prefix: string, key: KeyOf): string {
  if (key.kind === 'pointer') return `${prefix}:{r.${encodeId(key.requestId)}}:ptr`;
  return `${prefix}:{${encodeId(key.subject)}}:${suffixOf(key)}`;
}

function suffixOf(key: Exclude<KeyOf, { kind: 'pointer' }>): string {
  switch (key.kind) {
    case 'warm':
      return 'warm';
    case 'record':
      return `res:${encodeId(key.requestId)}`;
    case 'applied':
      return `ap:${encodeId(key.requestId)}`;
    case 'usage':
      return `u:${encodeId(key.bucket.id)}:${countingSignature(key.bucket.counting)}`;
    case 'active':
      return `a:${encodeId(key.bucket.id)}:${countingSignature(key.bucket.counting)}`;
    case 'holds':
      return `h:${encodeId(key.bucketId)}`;
    case 'expiries':
      return `hx:${encodeId(key.bucketId)}`;
    case 'slots':
      return `c:${encodeId(key.bucketId)}`;
  }
}

/** A prefix must not open a hash tag of its own, or keys of one decision could split slots. */
export function assertPrefix(prefix: string): void {
  if (prefix === '' || /[{}]/.test(prefix)) {
    throw new TypeError(
      `counter store: Redis key prefix must be non-empty without braces, got ${JSON.stringify(prefix)}`,
    );
  }
}
