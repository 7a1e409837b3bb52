import { createHash, randomUUID } from 'node:crypto';
import { Param, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.js';

/**
 * A bucket's settled `used` moved from below `threshold × effectiveLimit` to at or above it
 * (SPEC §5.1). Quantities as the API shows them: cost in US dollars (6 decimals), counts and
 * tokens as counts; `window` as the limit names it (null for concurrency); `resetAt` ISO-8601.
 */
export interface ThresholdCrossing {
  bucket: string;
  axis: 'user' | 'key';
  ownerId: string;
  modelGroupId: number | null;
  metric: string;
  window: string | null;
  threshold: number;
  used: number;
  effectiveLimit: number;
  limitId: number;
  shadow: boolean;
  resetAt: string | null;
  requestId: string;
}

export const THRESHOLD_CROSSED = 'quota.threshold_crossed';
export const WEBHOOK_TEST = 'webhook.test';

type Listener = () => void;
const listeners = new Set<Listener>();

/** Delivery workers of this process hear of every enqueue at once (others find it by polling). */
export function onEnqueued(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function notifyEnqueued(): void {
  for (const listener of listeners) listener();
}

/** One crossing is one event, whoever reports it and however often: the id is its identity. */
export function crossingEventId(c: Pick<ThresholdCrossing, 'requestId' | 'bucket' | 'threshold'>): string {
  const digest = createHash('sha256').update(JSON.stringify([c.requestId, c.bucket, c.threshold]));
  return `evt_${digest.digest('hex').slice(0, 32)}`;
}

/** The event body of SPEC §5.1, field by field (a caller's extra properties never leak into it). */
function crossingBody(c: ThresholdCrossing, now: number) {
  return {
    type: THRESHOLD_CROSSED,
    timestamp: new Date(now).toISOString(),
    data: {
      bucket: c.bucket,
      axis: c.axis,
      ownerId: c.ownerId,
      modelGroupId: c.modelGroupId,
      metric: c.metric,
      window: c.window,
      threshold: c.threshold,
      used: c.used,
      effectiveLimit: c.effectiveLimit,
      limitId: c.limitId,
      shadow: c.shadow,
      resetAt: c.resetAt,
      requestId: c.requestId,
    },
  };
}

/**
 * Writes the crossings' events and one pending delivery per enabled webhook, on `db` (pass
 * the settle's transaction: the events commit with the charge). Idempotent: the event id
 * is derived from (requestId, bucket, threshold), and an event already in the outbox gets
 * no new deliveries.
 */
export async function enqueueCrossings(
  db: Executor,
  crossings: ThresholdCrossing[],
  now: number,
): Promise<void> {
  const events = new Map(crossings.map((c) => [crossingEventId(c), crossingBody(c, now)]));
  if (events.size === 0) return;
  await insertEvents(
    db,
    [...events].map(([id, body]) => ({ id, type: THRESHOLD_CROSSED, body })),
    now,
    null,
  );
  notifyEnqueued();
}

/**
 * A `webhook.test` event for one webhook only; returns its id. The caller notifies the
 * workers after its transaction commits.
 */
export async function enqueueTestEvent(db: Executor, webhookId: number, now: number): Promise<string> {
  const id = `evt_${randomUUID().replaceAll('-', '')}`;
  const body = {
    type: WEBHOOK_TEST,
    timestamp: new Date(now).toISOString(),
    data: { webhookId, message: 'a test event sent from the quotagate admin API' },
  };
  await insertEvents(db, [{ id, type: WEBHOOK_TEST, body }], now, webhookId);
  return id;
}

interface NewEvent {
  id: string;
  type: string;
  body: unknown;
}

/** One statement: the events, then deliveries for the ones that were new (to `onlyWebhook`, or every enabled one). */
async function insertEvents(db: Executor, events: NewEvent[], now: number, onlyWebhook: number | null) {
  const at = new Date(now).toISOString();
  const receivers = onlyWebhook === null ? sql`w.enabled` : sql`w.id = ${onlyWebhook}`;
  await db.execute(sql`
    with fresh as (
      insert into webhook_events (id, type, payload, created_at)
      select id, type, payload, ${at}::timestamptz
      from unnest(${new Param(events.map((e) => e.id))}::text[],
                  ${new Param(events.map((e) => e.type))}::text[],
                  ${new Param(events.map((e) => JSON.stringify(e.body)))}::jsonb[]) as t(id, type, payload)
      on conflict (id) do nothing
      returning id)
    insert into webhook_deliveries (event_id, webhook_id, next_attempt_at, created_at)
    select fresh.id, w.id, ${at}::timestamptz, ${at}::timestamptz
    from fresh cross join webhooks w
    where ${receivers}
    on conflict (event_id, webhook_id) do nothing`);
}
