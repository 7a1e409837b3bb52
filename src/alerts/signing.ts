import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** 32 random bytes: Standard Webhooks asks for 24 to 64; `whsec_` + base64 is its secret format. */
const SECRET_BYTES = 32;

export function generateSecret(): string {
  return `whsec_${randomBytes(SECRET_BYTES).toString('base64')}`;
}

export interface SignedHeaders {
  'content-type': 'application/json';
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * The Standard Webhooks headers of one attempt: `webhook-id` is the event id (stable across
 * retries), the timestamp is the attempt's, in whole seconds, and the signature covers
 * `id.timestamp.body` exactly as sent.
 */
export function signedHeaders(secret: string, eventId: string, at: number, body: string): SignedHeaders {
  const timestamp = new Date(Math.floor(at / 1000) * 1000);
  return {
    'content-type': 'application/json',
    'webhook-id': eventId,
    'webhook-timestamp': String(timestamp.getTime() / 1000),
    'webhook-signature': new Webhook(secret).sign(eventId, timestamp, body),
  };
}
