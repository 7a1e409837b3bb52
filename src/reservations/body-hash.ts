import { createHash } from 'node:crypto';

/** Idempotency key of a /reserve body: a retry with the same body hashes the same. */
export function bodyHash(body: Record<string, unknown>): string {
  const canonical = JSON.stringify(
    Object.keys(body)
      .sort()
      .map((k) => [k, body[k] ?? null]),
  );
  return createHash('sha256').update(canonical).digest('base64url');
}
