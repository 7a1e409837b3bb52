import type { Db, Tx } from '../db/client.js';
import { auditLog } from '../db/schema.js';
import { invalid, notFound } from '../domain/errors.js';
import type { HostPolicy } from './allowed-hosts.js';
import { listDeliveries, type DeliveryRecord, type DeliveryStatus } from './delivery-rows.js';
import { enqueueTestEvent, notifyEnqueued } from './outbox.js';
import { generateSecret } from './signing.js';
import * as rows from './webhook-rows.js';
import type { WebhookPatch, WebhookView } from './webhook-rows.js';

/** Who acts (token name, for the audit log) and where. */
export interface WebhookAdmin {
  db: Db;
  actor: string;
  /** WEBHOOK_ALLOWED_HOSTS; absent: any host. */
  hosts?: HostPolicy | undefined;
}

export interface CreateWebhookInput {
  url: string;
  description?: string | null | undefined;
  enabled?: boolean | undefined;
}

/** The create answer is the only place the secret is ever shown. */
export interface WebhookCreated extends WebhookView {
  secret: string;
}

interface Audit {
  action: string;
  id: number;
  before: unknown;
  after: unknown;
}

/**
 * A webhook change and its audit row commit together (as every admin write does). Webhooks
 * are not in the config snapshot — the outbox reads them from PostgreSQL when it enqueues —
 * so there is no config version to bump. Audit images are views: they never hold the secret.
 */
async function audited<T>(ctx: WebhookAdmin, change: (tx: Tx) => Promise<{ result: T; audit: Audit }>) {
  return ctx.db.transaction(async (tx) => {
    const { result, audit } = await change(tx);
    await tx.insert(auditLog).values({
      actor: ctx.actor,
      action: `webhook.${audit.action}`,
      entityType: 'webhook',
      entityId: String(audit.id),
      before: audit.before,
      after: audit.after,
    });
    return result;
  });
}

/** Checked before the transaction: it may resolve the host name. Delivery checks again (DNS changes). */
async function assertAllowed(ctx: WebhookAdmin, url: string): Promise<void> {
  const refused = await ctx.hosts?.refusal(new URL(url));
  if (refused) throw invalid('url', `not allowed: ${refused}`);
}

export async function createWebhook(
  ctx: WebhookAdmin,
  input: CreateWebhookInput,
  now: number,
): Promise<WebhookCreated> {
  await assertAllowed(ctx, input.url);
  const secret = generateSecret();
  return audited(ctx, async (tx) => {
    const draft = { url: input.url, description: input.description ?? null, enabled: input.enabled ?? true };
    const view = await rows.insertWebhook(tx, { ...draft, secret }, now);
    return {
      result: { ...view, secret },
      audit: { action: 'create', id: view.id, before: null, after: view },
    };
  });
}

export function listWebhooks(db: Db): Promise<WebhookView[]> {
  return rows.listWebhooks(db);
}

export async function getWebhook(db: Db | Tx, id: number, lock = false): Promise<WebhookView> {
  const webhook = await rows.findWebhook(db, id, lock);
  if (!webhook) throw notFound('webhook', id);
  return webhook;
}

/** Disabling pauses the webhook's pending deliveries; enabling resumes those still in their retry window. */
export async function updateWebhook(ctx: WebhookAdmin, id: number, patch: WebhookPatch, now: number) {
  if (patch.url !== undefined) await assertAllowed(ctx, patch.url);
  const updated = await audited(ctx, async (tx) => {
    const before = await getWebhook(tx, id, true);
    const after = (await rows.updateWebhook(tx, id, patch, now))!;
    return { result: after, audit: { action: 'update', id, before, after } };
  });
  if (patch.enabled === true) notifyEnqueued();
  return updated;
}

export function deleteWebhook(ctx: WebhookAdmin, id: number): Promise<void> {
  return audited(ctx, async (tx) => {
    const before = await rows.deleteWebhook(tx, id);
    if (!before) throw notFound('webhook', id);
    return { result: undefined, audit: { action: 'delete', id, before, after: null } };
  });
}

export async function listWebhookDeliveries(
  db: Db,
  id: number,
  limit: number,
  status?: DeliveryStatus,
): Promise<DeliveryRecord[]> {
  await getWebhook(db, id);
  return listDeliveries(db, id, limit, status);
}

/** Enqueues a `webhook.test` event for this webhook alone, sent even while it is disabled. */
export async function sendTestEvent(
  ctx: WebhookAdmin,
  id: number,
  now: number,
): Promise<{ eventId: string }> {
  const eventId = await audited(ctx, async (tx) => {
    await getWebhook(tx, id, true);
    const eventId = await enqueueTestEvent(tx, id, now);
    return { result: eventId, audit: { action: 'test', id, before: null, after: { eventId } } };
  });
  notifyEnqueued();
  return { eventId };
}
