import { and, desc, eq, sql } from 'drizzle-orm';
import { rowsOf, type Executor } from '../db/client.js';
import { webhookDeliveries, webhookEvents } from '../db/schema.js';
import { WEBHOOK_TEST } from './outbox.js';

/** SQL of the delivery worker and the deliveries log. Times are epoch ms throughout. */

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** A delivery a worker holds a lease on: everything one attempt needs. */
export interface ClaimedDelivery {
  id: number;
  /** The attempt this claim is (1-based); it fences the outcome write against a later claim. */
  attempt: number;
  webhookId: number;
  url: string;
  secret: string;
  eventId: string;
  eventCreatedAt: number;
  body: string;
}

/**
 * Claims up to `limit` due deliveries: pending, due, the event inside its retry window, the
 * webhook enabled (a test event goes to a disabled one too). `FOR UPDATE SKIP LOCKED` keeps
 * concurrent claimers off each other's rows; moving `next_attempt_at` to `leaseUntil` keeps
 * them off after the commit, until the attempt's outcome is written or the lease lapses.
 */
export async function claimDue(
  db: Executor,
  now: number,
  limit: number,
  leaseUntil: number,
  retryWindowMs: number,
): Promise<ClaimedDelivery[]> {
  const at = new Date(now).toISOString();
  const oldest = new Date(now - retryWindowMs).toISOString();
  const result = await db.execute(sql`
    with due as (
      select d.id from webhook_deliveries d
      join webhooks w on w.id = d.webhook_id
      join webhook_events e on e.id = d.event_id
      where d.status = 'pending' and d.next_attempt_at <= ${at}::timestamptz
        and e.created_at > ${oldest}::timestamptz
        and (w.enabled or e.type = ${WEBHOOK_TEST})
      order by d.next_attempt_at
      limit ${limit}
      for update of d skip locked)
    update webhook_deliveries d
    set attempts = d.attempts + 1, last_attempt_at = ${at}::timestamptz,
      next_attempt_at = ${new Date(leaseUntil).toISOString()}::timestamptz
    from due, webhooks w, webhook_events e
    where d.id = due.id and w.id = d.webhook_id and e.id = d.event_id
    returning d.id::float8 as id, d.attempts as attempt, d.webhook_id as "webhookId", w.url, w.secret,
      e.id as "eventId", (extract(epoch from e.created_at) * 1000)::float8 as "eventCreatedAt",
      e.payload::text as body`);
  return rowsOf<ClaimedDelivery>(result);
}

export type AttemptOutcome =
  | { kind: 'delivered'; statusCode: number }
  | { kind: 'retry'; statusCode: number | null; error: string; nextAttemptAt: number }
  | { kind: 'failed'; statusCode: number | null; error: string };

/** Writes an attempt's outcome; false when the claim was no longer this attempt's (its lease lapsed). */
export async function recordOutcome(
  db: Executor,
  claim: Pick<ClaimedDelivery, 'id' | 'attempt'>,
  outcome: AttemptOutcome,
  now: number,
): Promise<boolean> {
  const at = new Date(now);
  const set =
    outcome.kind === 'delivered'
      ? { status: 'delivered', deliveredAt: at, lastStatusCode: outcome.statusCode, lastError: null }
      : outcome.kind === 'retry'
        ? {
            nextAttemptAt: new Date(outcome.nextAttemptAt),
            lastStatusCode: outcome.statusCode,
            lastError: outcome.error,
          }
        : { status: 'failed', lastStatusCode: outcome.statusCode, lastError: outcome.error };
  const rows = await db
    .update(webhookDeliveries)
    .set(set)
    .where(
      and(
        eq(webhookDeliveries.id, claim.id),
        eq(webhookDeliveries.attempts, claim.attempt),
        eq(webhookDeliveries.status, 'pending'),
      ),
    )
    .returning({ id: webhookDeliveries.id });
  return rows.length > 0;
}

/**
 * Pending deliveries whose event left the retry window unclaimed (their webhook was
 * disabled, or no instance ran) are failed; returns how many.
 */
export async function failExpired(db: Executor, now: number, retryWindowMs: number): Promise<number> {
  const at = new Date(now).toISOString();
  const result = await db.execute(sql`
    update webhook_deliveries d
    set status = 'failed', last_error = coalesce(d.last_error, 'not delivered within the retry window')
    from webhook_events e
    where e.id = d.event_id and d.status = 'pending' and d.next_attempt_at <= ${at}::timestamptz
      and e.created_at <= ${new Date(now - retryWindowMs).toISOString()}::timestamptz
    returning d.id`);
  return rowsOf<unknown>(result).length;
}

export interface DeliveryRecord {
  id: number;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  lastAttemptAt: Date | null;
  /** Null once the delivery is finished. */
  nextAttemptAt: Date | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

/** A webhook's deliveries, newest first. */
export async function listDeliveries(
  db: Executor,
  webhookId: number,
  limit: number,
  status?: DeliveryStatus,
): Promise<DeliveryRecord[]> {
  const d = webhookDeliveries;
  const rows = await db
    .select({
      id: d.id,
      eventId: d.eventId,
      eventType: webhookEvents.type,
      status: d.status,
      attempts: d.attempts,
      lastStatusCode: d.lastStatusCode,
      lastError: d.lastError,
      lastAttemptAt: d.lastAttemptAt,
      nextAttemptAt: d.nextAttemptAt,
      createdAt: d.createdAt,
      deliveredAt: d.deliveredAt,
    })
    .from(d)
    .innerJoin(webhookEvents, eq(webhookEvents.id, d.eventId))
    .where(and(eq(d.webhookId, webhookId), status === undefined ? undefined : eq(d.status, status)))
    .orderBy(desc(d.createdAt), desc(d.id))
    .limit(limit);
  return rows.map((r) => ({
    ...r,
    status: r.status as DeliveryStatus,
    nextAttemptAt: r.status === 'pending' ? r.nextAttemptAt : null,
  }));
}
