import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { eq } from 'drizzle-orm';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { enqueueCrossings } from '../../src/alerts/outbox.js';
import { systemClock } from '../../src/clock.js';
import { webhookDeliveries, webhookEvents } from '../../src/db/schema.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';
import { Receiver, eventually, headersOf, type Responder } from './receiver.js';
import {
  crossing,
  createWebhook as create,
  deleteAllWebhooks,
  deliveriesOf as deliveriesVia,
  median,
  sendTest as sendTestVia,
  sleep,
  summary,
  viaInject,
  type Delivery,
} from './webhook-support.js';

const createWebhook = (t: TestApp, url: string, enabled = true) => create(viaInject(t), url, enabled);
const sendTest = (t: TestApp, id: number) => sendTestVia(viaInject(t), id);
const deliveriesOf = (t: TestApp, id: number) => deliveriesVia(viaInject(t), id);

describeWithPostgres('webhook delivery', () => {
  const databaseUrl = useTestDatabase();
  let t: TestApp;
  const receivers: Receiver[] = [];
  const receiver = async (respond?: Responder) => {
    const r = await Receiver.start(respond);
    receivers.push(r);
    return r;
  };
  beforeAll(async () => {
    t = await startTestApp({ databaseUrl: databaseUrl(), clock: systemClock });
  });
  afterEach(async () => {
    // Each test's webhooks go, so the next test's crossings reach only its own receivers.
    await deleteAllWebhooks(viaInject(t));
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });
  afterAll(() => t?.close());

  it('delivers webhook.test signed so that Webhook.verify accepts it with the created secret', async () => {
    const r = await receiver();
    const { id, secret } = await createWebhook(t, r.url);
    const eventId = await sendTest(t, id);
    await r.waitUntil(() => r.received.length === 1);
    const [got] = r.received;
    expect(got!.id).toBe(eventId);
    expect(got!.contentType).toBe('application/json');
    expect(got!.timestamp).toMatch(/^\d{10}$/);
    expect(Math.abs(Number(got!.timestamp) - Date.now() / 1000)).toBeLessThan(5);
    expect(got!.signature).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    const verified = new Webhook(secret).verify(got!.body, headersOf(got!));
    expect(verified).toEqual({
      type: 'webhook.test',
      timestamp: expect.any(String),
      data: { webhookId: id, message: expect.any(String) },
    });
    // Another secret, or a changed body, does not verify.
    const other = await createWebhook(t, r.url, false);
    expect(() => new Webhook(other.secret).verify(got!.body, headersOf(got!))).toThrow();
    expect(() =>
      new Webhook(secret).verify(got!.body.replace('webhook.test', 'webhook.tezt'), headersOf(got!)),
    ).toThrow();

    const [log] = await eventually(
      () => deliveriesOf(t, id),
      (d) => d[0]?.status === 'delivered',
    );
    expect(log).toMatchObject({
      eventId,
      status: 'delivered',
      attempts: 1,
      lastStatusCode: 200,
      lastError: null,
      nextAttemptAt: null,
    });
    expect(log!.deliveredAt).not.toBeNull();
  });

  it('sends the threshold event body of SPEC §5.1, exactly as stored, to every enabled webhook and not a disabled one', async () => {
    const [a, b, off] = [await receiver(), await receiver(), await receiver()];
    const hooks = [await createWebhook(t, a.url), await createWebhook(t, b.url)];
    const disabled = await createWebhook(t, off.url, false);
    const c = crossing({ resetAt: '2027-01-04T17:00:00.000Z' });
    const now = Date.now();
    await enqueueCrossings(t.database.db, [c], now);
    await a.waitUntil(() => a.received.length === 1);
    await b.waitUntil(() => b.received.length === 1);
    const body = JSON.parse(a.received[0]!.body);
    expect(body).toEqual({
      type: 'quota.threshold_crossed',
      timestamp: new Date(now).toISOString(),
      data: {
        bucket: c.bucket,
        axis: 'user',
        ownerId: 'u-42',
        modelGroupId: 3,
        metric: 'cost',
        window: '5h',
        threshold: 0.8,
        used: 8.1,
        effectiveLimit: 10,
        limitId: 12,
        shadow: false,
        resetAt: '2027-01-04T17:00:00.000Z',
        requestId: c.requestId,
      },
    });
    expect(a.received[0]!.body).toBe(b.received[0]!.body);
    expect(a.received[0]!.id).toBe(b.received[0]!.id);
    for (const [i, hook] of hooks.entries()) {
      const got = [a, b][i]!.received[0]!;
      expect(new Webhook(hook.secret).verify(got.body, headersOf(got))).toEqual(body);
    }
    // Give the disabled one every chance: a poll or two.
    await sleep(800);
    expect(off.received).toEqual([]);
    expect(await deliveriesOf(t, disabled.id)).toEqual([]);
  });

  it('retries a 500 with the same webhook-id, about 1 s then 2 s later, and logs it delivered after 3 attempts', async () => {
    const r = await receiver((attempt) => (attempt <= 2 ? 500 : 200));
    const { id, secret } = await createWebhook(t, r.url);
    const eventId = await sendTest(t, id);
    await r.waitUntil(() => r.received.length === 3, 15_000);
    const ids = r.received.map((x) => x.id);
    expect(ids).toEqual([eventId, eventId, eventId]);
    const [first, second, third] = r.received.map((x) => x.at);
    const gaps = [second! - first!, third! - second!];
    console.log(`retry gaps after a 500: ${gaps.join(' ms, ')} ms`);
    expect(gaps[0]).toBeGreaterThanOrEqual(950);
    expect(gaps[0]).toBeLessThan(1900);
    expect(gaps[1]).toBeGreaterThanOrEqual(1950);
    expect(gaps[1]).toBeLessThan(3200);
    for (const got of r.received)
      expect(() => new Webhook(secret).verify(got.body, headersOf(got))).not.toThrow();
    expect(new Set(r.received.map((x) => x.body)).size).toBe(1);
    const [log] = await eventually(
      () => deliveriesOf(t, id),
      (d) => d[0]?.status === 'delivered',
    );
    expect(log).toMatchObject({ eventId, status: 'delivered', attempts: 3, lastStatusCode: 200 });
  });

  it('records why an attempt failed while it retries: the status, or the connection error', async () => {
    const r = await receiver(() => 503);
    const down = await Receiver.freePort();
    const [answering, refusing] = [
      await createWebhook(t, r.url),
      await createWebhook(t, `http://127.0.0.1:${down}/hook`),
    ];
    await sendTest(t, answering.id);
    await sendTest(t, refusing.id);
    const attempted = (d: Delivery[]) => d[0] !== undefined && d[0].lastError !== null;
    const [a] = await eventually(() => deliveriesOf(t, answering.id), attempted);
    expect(a).toMatchObject({ status: 'pending', lastStatusCode: 503, lastError: 'HTTP 503' });
    expect(Date.parse(a!.nextAttemptAt!)).toBeGreaterThan(Date.now() - 1000);
    const [b] = await eventually(() => deliveriesOf(t, refusing.id), attempted);
    expect(b).toMatchObject({ status: 'pending', lastStatusCode: null });
    expect(b!.lastError).toMatch(/ECONNREFUSED/);
  });

  it('enqueues one event per crossing however often it is reported, one delivery per enabled webhook', async () => {
    const [a, b] = [await receiver(), await receiver()];
    const hooks = [await createWebhook(t, a.url), await createWebhook(t, b.url)];
    const c = crossing();
    const now = Date.now();
    await enqueueCrossings(t.database.db, [c, { ...c }], now);
    await enqueueCrossings(t.database.db, [c], now + 5);
    await t.database.db.transaction((tx) => enqueueCrossings(tx, [c], now + 10));
    await a.waitUntil(() => a.received.length >= 1);
    await b.waitUntil(() => b.received.length >= 1);
    await sleep(700);
    expect(a.received).toHaveLength(1);
    expect(b.received).toHaveLength(1);
    const events = await t.database.db
      .select()
      .from(webhookEvents)
      .where(eq(webhookEvents.id, a.received[0]!.id));
    expect(events).toHaveLength(1);
    const deliveries = await t.database.db
      .select()
      .from(webhookDeliveries)
      .where(eq(webhookDeliveries.eventId, a.received[0]!.id));
    expect(deliveries.map((d) => d.webhookId).sort()).toEqual(hooks.map((h) => h.id).sort());
    // Another threshold, bucket or request is another event.
    await enqueueCrossings(
      t.database.db,
      [
        { ...c, threshold: 1 },
        { ...c, bucket: 'key:k-9|*|cost|5h' },
        { ...c, requestId: 'r-other' },
      ],
      now,
    );
    await a.waitUntil(() => a.received.length === 4);
    expect(new Set(a.received.map((x) => x.id)).size).toBe(4);
  });

  it('writes nothing when the crossing’s transaction rolls back', async () => {
    const r = await receiver();
    await createWebhook(t, r.url);
    const c = crossing();
    await expect(
      t.database.db.transaction(async (tx) => {
        await enqueueCrossings(tx, [c], Date.now());
        throw new Error('settle failed');
      }),
    ).rejects.toThrow('settle failed');
    await sleep(600);
    expect(r.received).toEqual([]);
  });

  it('pauses a webhook’s pending deliveries while it is disabled (a test event still goes) and resumes them', async () => {
    let up = false;
    const r = await receiver(() => (up ? 200 : 500));
    const api = viaInject(t);
    const { id } = await createWebhook(t, r.url);
    const c = crossing();
    await enqueueCrossings(t.database.db, [c], Date.now());
    await r.waitUntil(() => r.received.length === 1);
    const crossingId = r.received[0]!.id;
    expect((await api('PATCH', `/admin/webhooks/${id}`, { enabled: false })).status).toBe(200);
    up = true;
    await sleep(2_000);
    // Its retry was due after ~1 s: paused, it did not come.
    expect(r.of(crossingId)).toHaveLength(1);
    const testId = await sendTest(t, id);
    await r.waitUntil(() => r.of(testId).length === 1);
    expect(r.of(crossingId)).toHaveLength(1);

    expect((await api('PATCH', `/admin/webhooks/${id}`, { enabled: true })).status).toBe(200);
    await r.waitUntil(() => r.of(crossingId).length === 2, 5_000);
    const log = await eventually(
      () => deliveriesOf(t, id),
      (d) => d.every((x) => x.status === 'delivered'),
    );
    expect(log.map((x) => [x.eventId, x.status, x.attempts])).toEqual([
      [testId, 'delivered', 1],
      [crossingId, 'delivered', 2],
    ]);
  });

  it('measures the delivery latency from enqueue to receipt', async () => {
    const r = await receiver();
    const { id } = await createWebhook(t, r.url);
    const viaTest: number[] = [];
    const viaCrossing: number[] = [];
    for (let i = 0; i < 20; i++) {
      const startedAt = Date.now();
      await sendTest(t, id);
      await r.waitUntil(() => r.received.length === 2 * i + 1);
      viaTest.push(r.received.at(-1)!.at - startedAt);
      const crossedAt = Date.now();
      await enqueueCrossings(t.database.db, [crossing()], crossedAt);
      await r.waitUntil(() => r.received.length === 2 * i + 2);
      viaCrossing.push(r.received.at(-1)!.at - crossedAt);
    }
    console.log(
      `webhook delivery latency — ${summary('POST /test → receipt', viaTest)}; ` +
        summary('enqueueCrossings → receipt', viaCrossing),
    );
    // The in-process kick, not the 250–500 ms poll, carries them.
    expect(median(viaCrossing)).toBeLessThan(200);
    expect(median(viaTest)).toBeLessThan(200);
  });
});

describeWithPostgres('webhook delivery: giving up', () => {
  const databaseUrl = useTestDatabase();
  let t: TestApp;
  let logged = '';
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logged += chunk.toString();
        done();
      },
    });
    t = await startTestApp({
      databaseUrl: databaseUrl(),
      clock: systemClock,
      // 1.8 s: attempts at 0 s and 1 s fail; the next (3 s) would fall past the window.
      env: { WEBHOOK_RETRY_HOURS: '0.0005', WEBHOOK_TIMEOUT_MS: '1000' },
      logger: pino({ level: 'warn' }, sink),
    });
  });
  afterAll(() => t?.close());

  it('marks a delivery failed once the retry window has passed, and logs it without secret or body', async () => {
    const r = await Receiver.start(() => 500);
    try {
      const { id, secret } = await createWebhook(t, `${r.url}?token=do-not-log`);
      const eventId = await sendTest(t, id);
      const [log] = await eventually(
        () => deliveriesOf(t, id),
        (d) => d[0]?.status === 'failed',
        8_000,
      );
      expect(log).toMatchObject({
        eventId,
        status: 'failed',
        attempts: 2,
        lastStatusCode: 500,
        lastError: 'HTTP 500',
        nextAttemptAt: null,
        deliveredAt: null,
      });
      expect(r.of(eventId)).toHaveLength(2);
      await sleep(1_500);
      expect(r.of(eventId)).toHaveLength(2);
      expect(logged).toContain('webhook delivery failed; will retry');
      expect(logged).toContain('webhook delivery failed for good');
      expect(logged).toContain(eventId);
      expect(logged).not.toContain(secret);
      expect(logged).not.toContain(secret.slice('whsec_'.length));
      expect(logged).not.toContain('do-not-log');
      expect(logged).not.toContain('a test event sent');
    } finally {
      await r.close();
    }
  });

  it('gives up on a receiver that does not answer within WEBHOOK_TIMEOUT_MS', async () => {
    // Takes every request and never answers.
    const hung = http.createServer(() => undefined);
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = hung.address() as AddressInfo;
      const { id } = await createWebhook(t, `http://127.0.0.1:${port}/hook`);
      await sendTest(t, id);
      const [log] = await eventually(
        () => deliveriesOf(t, id),
        (d) => d[0]?.status === 'failed',
        8_000,
      );
      expect(log).toMatchObject({
        status: 'failed',
        lastStatusCode: null,
        lastError: 'no answer within 1000 ms',
      });
    } finally {
      hung.closeAllConnections();
      await new Promise((resolve) => hung.close(resolve));
    }
  });
});
