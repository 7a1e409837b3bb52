import { asc, eq } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { webhooks } from '../db/schema.js';

/** A webhook as the admin API shows it: everything but the secret. */
export interface WebhookView {
  id: number;
  url: string;
  description: string | null;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface WebhookDraft {
  url: string;
  description: string | null;
  enabled: boolean;
  secret: string;
}

export interface WebhookPatch {
  url?: string | undefined;
  description?: string | null | undefined;
  enabled?: boolean | undefined;
}

type Row = typeof webhooks.$inferSelect;

/** The secret is dropped here, so no read path (answers, audit) can carry it by accident. */
function toView(row: Row): WebhookView {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    enabled: row.enabled,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export async function insertWebhook(db: Executor, draft: WebhookDraft, now: number): Promise<WebhookView> {
  const at = new Date(now);
  const [row] = await db
    .insert(webhooks)
    .values({ ...draft, createdAt: at, updatedAt: at })
    .returning();
  return toView(row!);
}

/** `lock`: hold the row until the transaction ends, so a before image is what the change replaces. */
export async function findWebhook(db: Executor, id: number, lock = false): Promise<WebhookView | null> {
  const query = db.select().from(webhooks).where(eq(webhooks.id, id));
  const [row] = lock ? await query.for('update') : await query;
  return row ? toView(row) : null;
}

export async function listWebhooks(db: Executor): Promise<WebhookView[]> {
  return (await db.select().from(webhooks).orderBy(asc(webhooks.id))).map(toView);
}

export async function updateWebhook(
  db: Executor,
  id: number,
  patch: WebhookPatch,
  now: number,
): Promise<WebhookView | null> {
  const set = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
  const [row] = await db
    .update(webhooks)
    .set({ ...set, updatedAt: new Date(now) })
    .where(eq(webhooks.id, id))
    .returning();
  return row ? toView(row) : null;
}

/** Its deliveries go with it (their events stay, for the other webhooks). */
export async function deleteWebhook(db: Executor, id: number): Promise<WebhookView | null> {
  const [row] = await db.delete(webhooks).where(eq(webhooks.id, id)).returning();
  return row ? toView(row) : null;
}
