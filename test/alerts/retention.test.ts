import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { pruneOutbox } from '../../src/alerts/outbox-retention.js';
import { ManualClock } from '../../src/clock.js';
import { openPostgres, type Database } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { webhookDeliveries, webhookEvents, webhooks } from '../../src/db/schema.js';
import { startTestApp } from '../support/app.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';
import { eventually } from './receiver.js';

const DAY = 86_400_000;
const NOW = Date.parse('2027-03-01T00:00:00Z');
type Status = 'pending' | 'delivered' | 'failed';

describeWithPostgres('webhook outbox retention (WEBHOOK_RETENTION_DAYS)', () => {
  const databaseUrl = useTestDatabase();
  let database: Database;
  let hooks: [number, number];
  beforeAll(async () => {
    database = openPostgres(databaseUrl(), 2);
    await applyMigrations(database);
  });
  afterAll(() => database?.close());
  beforeEach(async () => {
    await database.db.delete(webhookEvents);
    await database.db.delete(webhooks);
    const rows = await database.db
      .insert(webhooks)
      .values([
        { url: 'https://a.example/q', secret: 'whsec_AAAA' },
        { url: 'https://b.example/q', secret: 'whsec_BBBB' },
      ])
      .returning({ id: webhooks.id });
    hooks = [rows[0]!.id, rows[1]!.id];
  });

  /** An event created `ageDays` before NOW with one delivery per status given (to webhook a, then b). */
  async function event(name: string, ageDays: number, statuses: Status[]): Promise<string> {
    const id = `evt_${name}_${randomUUID().slice(0, 8)}`;
    const at = new Date(NOW - ageDays * DAY);
    await database.db.insert(webhookEvents).values({ id, type: 'webhook.test', payload: {}, createdAt: at });
    for (const [i, status] of statuses.entries()) {
      await database.db.insert(webhookDeliveries).values({
        eventId: id,
        webhookId: hooks[i]!,
        status,
        nextAttemptAt: at,
        createdAt: at,
        ...(status === 'delivered' ? { deliveredAt: at } : {}),
      });
    }
    return id;
  }

  const left = async () => ({
    events: (await database.db.select({ id: webhookEvents.id }).from(webhookEvents)).map((e) => e.id).sort(),
    deliveries: (
      await database.db
        .select({ eventId: webhookDeliveries.eventId, status: webhookDeliveries.status })
        .from(webhookDeliveries)
    )
      .map((d) => `${d.eventId}:${d.status}`)
      .sort(),
  });

  it('deletes delivered and failed deliveries older than the retention and events left without any; never a pending one', async () => {
    for (let i = 0; i < 5; i++) await event(`delivered${i}`, 31, ['delivered']);
    for (let i = 0; i < 3; i++) await event(`failed${i}`, 40, ['failed']);
    await event('orphan', 31, []); // its webhook was deleted
    const oldPending = await event('oldPending', 60, ['pending']);
    const mixed = await event('mixed', 31, ['delivered', 'pending']);
    const recent = await event('recent', 29, ['delivered', 'failed']);

    const pruned = await pruneOutbox(database.db, NOW, 30 * DAY, { batchSize: 2 });

    expect(pruned).toEqual({ deliveries: 9, events: 9 });
    expect(await left()).toEqual({
      events: [oldPending, mixed, recent].sort(),
      deliveries: [
        `${oldPending}:pending`,
        `${mixed}:pending`,
        `${recent}:delivered`,
        `${recent}:failed`,
      ].sort(),
    });
  });

  it('works in bounded batches: a run stops after its batches and the next one carries on', async () => {
    for (let i = 0; i < 7; i++) await event(`d${i}`, 31, ['delivered']);
    const first = await pruneOutbox(database.db, NOW, 30 * DAY, { batchSize: 2, maxBatches: 2 });
    expect(first).toEqual({ deliveries: 4, events: 4 });
    expect((await left()).deliveries).toHaveLength(3);
    const second = await pruneOutbox(database.db, NOW, 30 * DAY, { batchSize: 2, maxBatches: 2 });
    expect(second).toEqual({ deliveries: 3, events: 3 });
    expect(await left()).toEqual({ events: [], deliveries: [] });
  });

  it('is run by the app at start, by its clock and WEBHOOK_RETENTION_DAYS', async () => {
    const expired = await event('expired', 8, ['delivered', 'failed']);
    const kept = await event('kept', 6, ['delivered']);
    const t = await startTestApp({
      databaseUrl: databaseUrl(),
      migrate: false,
      clock: new ManualClock(NOW),
      env: { WEBHOOK_RETENTION_DAYS: '7' },
    });
    try {
      const rest = await eventually(left, (l) => !l.events.includes(expired));
      expect(rest).toEqual({ events: [kept], deliveries: [`${kept}:delivered`] });
    } finally {
      await t.close();
    }
  });
});
