import { countingSignature } from '../counting-signature.js';
import type { StoreBucket } from '../counter-store.js';
import { encodeId } from '../ids.js';

/**
 * Every Redis key quotagate writes, built here and nowhere else:
 *
 *   <prefix>:{<subject>}:warm               hash   warm flags of the subject's buckets
 *   <prefix>:{<subject>}:alerts             list   threshold crossings not yet in the outbox
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
  | { kind: 'warm' | 'alerts'; subject: string }
  | { kind: 'record' | 'applied'; subject: string; requestId: string }
  | { kind: 'usage' | 'active'; subject: string; bucket: StoreBucket }
  | { kind: 'holds' | 'expiries' | 'slots'; subject: string; bucketId: string }
  | { kind: 'pointer'; requestId: string };

/** `encode`: encodeId, or its memo (ids.ts encodeKnownId). */
export function redisKey(prefix: string, key: KeyOf, encode: (id: string) => string = encodeId): string {
  if (key.kind === 'pointer') return `${prefix}:{r.${encode(key.requestId)}}:ptr`;
  const keys = new SubjectKeys(prefix, encode(key.subject));
  switch (key.kind) {
    case 'warm':
      return keys.warm();
    case 'alerts':
      return keys.alerts();
    case 'record':
      return keys.record(encode(key.requestId));
    case 'applied':
      return keys.applied(encode(key.requestId));
    case 'usage':
      return keys.usage(encode(key.bucket.id), countingSignature(key.bucket.counting));
    case 'active':
      return keys.active(encode(key.bucket.id), countingSignature(key.bucket.counting));
    case 'holds':
      return keys.holds(encode(key.bucketId));
    case 'expiries':
      return keys.expiries(encode(key.bucketId));
    case 'slots':
      return keys.slots(encode(key.bucketId));
  }
}

/**
 * The keys of one subject from parts already encoded: a script call names up to 20 keys
 * of one subject, and encodes each bucket id and counting signature once for all of them
 * (script-calls.ts) instead of once per key.
 */
export class SubjectKeys {
  private readonly base: string;

  constructor(prefix: string, encodedSubject: string) {
    this.base = `${prefix}:{${encodedSubject}}:`;
  }

  warm(): string {
    return `${this.base}warm`;
  }

  alerts(): string {
    return `${this.base}alerts`;
  }

  record(requestId: string): string {
    return `${this.base}res:${requestId}`;
  }

  applied(requestId: string): string {
    return `${this.base}ap:${requestId}`;
  }

  usage(bucketId: string, signature: string): string {
    return `${this.base}u:${bucketId}:${signature}`;
  }

  active(bucketId: string, signature: string): string {
    return `${this.base}a:${bucketId}:${signature}`;
  }

  holds(bucketId: string): string {
    return `${this.base}h:${bucketId}`;
  }

  expiries(bucketId: string): string {
    return `${this.base}hx:${bucketId}`;
  }

  slots(bucketId: string): string {
    return `${this.base}c:${bucketId}`;
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
