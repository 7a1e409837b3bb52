import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { scrubUrl } from '../../src/alerts/delivery-worker.js';
import { systemClock } from '../../src/clock.js';
import { webhooks } from '../../src/db/schema.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';
import { Receiver, eventually } from './receiver.js';
import {
  createWebhook,
  deleteAllWebhooks,
  deliveriesOf,
  sendTest,
  sleep,
  viaInject,
} from './webhook-support.js';

/** A webhook stored as an older version (or a shorter allow-list) let it be: no url check. */
async function storeWebhook(t: TestApp, url: string): Promise<number> {
  const [row] = await t.database.db
    .insert(webhooks)
    .values({ url, secret: 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=' })
    .returning({ id: webhooks.id });
  return row!.id;
}

/** Starts an app with a real delivery worker whose log lines are kept. */
function useApp(env: Record<string, string>) {
  const databaseUrl = useTestDatabase();
  const state = { t: undefined as unknown as TestApp, logged: '', receivers: [] as Receiver[] };
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        state.logged += chunk.toString();
        done();
      },
    });
    state.t = await startTestApp({
      databaseUrl: databaseUrl(),
      clock: systemClock,
      env,
      logger: pino({ level: 'warn' }, sink),
    });
  });
  afterEach(async () => {
    await deleteAllWebhooks(viaInject(state.t));
    await Promise.all(state.receivers.splice(0).map((r) => r.close()));
  });
  afterAll(() => state.t?.close());
  return state;
}

/** The first attempt's delivery row, once it has one. */
async function firstAttempt(t: TestApp, id: number) {
  const [delivery] = await eventually(
    () => deliveriesOf(viaInject(t), id),
    (d) => (d[0]?.attempts ?? 0) >= 1 && d[0]?.lastError !== null,
  );
  return delivery!;
}

describeWithPostgres('webhook delivery with WEBHOOK_ALLOWED_HOSTS=127.0.0.0/8', () => {
  const app = useApp({ WEBHOOK_ALLOWED_HOSTS: '127.0.0.0/8' });

  it('delivers to a receiver on a listed address', async () => {
    const r = await Receiver.start();
    app.receivers.push(r);
    const { id } = await createWebhook(viaInject(app.t), r.url);
    const eventId = await sendTest(viaInject(app.t), id);
    await r.waitUntil(() => r.of(eventId).length === 1);
    const [delivery] = await eventually(
      () => deliveriesOf(viaInject(app.t), id),
      (d) => d[0]?.status === 'delivered',
    );
    expect(delivery).toMatchObject({ eventId, status: 'delivered', attempts: 1, lastStatusCode: 200 });
  });

  it('never sends to a stored url with user:password@, and keeps the password out of lastError and the log', async () => {
    const r = await Receiver.start();
    app.receivers.push(r);
    const id = await storeWebhook(app.t, `http://ops:hunter2-secret@127.0.0.1:${r.port}/hook?token=abc`);
    await sendTest(viaInject(app.t), id);
    const delivery = await firstAttempt(app.t, id);
    expect(delivery).toMatchObject({
      status: 'pending',
      lastStatusCode: null,
      lastError: 'not sent: the webhook url contains a user name or password; change its url',
    });
    await sleep(200);
    expect(r.received).toEqual([]);
    expect(app.logged).toContain('webhook delivery failed; will retry');
    expect(app.logged).not.toContain('hunter2');
    expect(app.logged).not.toContain('token=abc');
  });
});

describeWithPostgres('webhook delivery with WEBHOOK_ALLOWED_HOSTS=10.0.0.0/8', () => {
  const app = useApp({ WEBHOOK_ALLOWED_HOSTS: '10.0.0.0/8' });

  it('refuses at create a receiver outside the list', async () => {
    const response = await viaInject(app.t)('POST', '/admin/webhooks', { url: 'http://127.0.0.1:9/hook' });
    expect(response.status).toBe(400);
  });

  it.each([
    [
      'an address outside the list',
      (port: number) => `http://127.0.0.1:${port}/hook`,
      /^not sent: address 127\.0\.0\.1 is not in WEBHOOK_ALLOWED_HOSTS$/,
    ],
    [
      'a name resolving outside the list',
      (port: number) => `http://localhost:${port}/hook`,
      /^not sent: host localhost resolves to (127\.0\.0\.1|::1), which is not in WEBHOOK_ALLOWED_HOSTS$/,
    ],
  ])('fails a delivery to %s without a request, recording why', async (_what, url, why) => {
    const r = await Receiver.start();
    app.receivers.push(r);
    // Created before the list was set: the delivery checks again.
    const id = await storeWebhook(app.t, url(r.port));
    await sendTest(viaInject(app.t), id);
    const delivery = await firstAttempt(app.t, id);
    expect(delivery).toMatchObject({ status: 'pending', lastStatusCode: null });
    expect(delivery.lastError).toMatch(why);
    // The retry about 1 s later is refused the same way.
    const retried = await eventually(
      () => deliveriesOf(viaInject(app.t), id),
      (d) => (d[0]?.attempts ?? 0) >= 2,
      5_000,
    );
    expect(retried[0]!.attempts).toBeGreaterThanOrEqual(2);
    expect(r.received).toEqual([]);
  });
});

describe('scrubUrl', () => {
  it('shows a URL in an error text as origin and path, and drops any user:password@', () => {
    const url = 'http://ops:pw@hooks.example.com:8080/q?token=abc';
    expect(scrubUrl(`Request cannot be constructed from a URL that includes credentials: ${url}`, url)).toBe(
      'Request cannot be constructed from a URL that includes credentials: http://hooks.example.com:8080/q',
    );
    expect(scrubUrl('redirected to https://u:p@other.example/x', url)).toBe(
      'redirected to https://other.example/x',
    );
    expect(scrubUrl('x'.repeat(400), url)).toHaveLength(300);
  });
});
