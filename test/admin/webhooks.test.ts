import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookDeliveries, webhookEvents, webhooks } from '../../src/db/schema.js';
import { ADMIN, SERVICE, startTestApp, type TestApp } from '../support/app.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';
import { NOW, auditOf, expectInvalid } from './quota-support.js';

const iso = (ms: number) => new Date(ms).toISOString();
const SECRET = /^whsec_[A-Za-z0-9+/]+={0,2}$/;

describeWithPostgres('/admin/webhooks', () => {
  const databaseUrl = useTestDatabase();
  let t: TestApp;
  beforeAll(async () => {
    // The manual clock stands still, so nothing enqueued here is ever due: no delivery is attempted.
    t = await startTestApp({ databaseUrl: databaseUrl() });
  });
  afterAll(() => t?.close());

  const send = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, now = NOW) =>
    t.inject({
      method,
      url,
      headers: { ...ADMIN, 'x-quota-test-now': String(now) },
      ...(body === undefined ? {} : { payload: body as object }),
    });
  const create = async (body: Record<string, unknown> = {}) => {
    const response = await send('POST', '/admin/webhooks', { url: 'https://alerts.example.com/q', ...body });
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as { id: number; secret: string; url: string };
  };

  describe('auth', () => {
    it('answers 401 without a token and 403 to a service token', async () => {
      expect((await t.inject({ method: 'GET', url: '/admin/webhooks' })).statusCode).toBe(401);
      const response = await t.inject({
        method: 'POST',
        url: '/admin/webhooks',
        headers: SERVICE,
        payload: { url: 'https://alerts.example.com/q' },
      });
      expect(response.statusCode).toBe(403);
      expect(await t.database.db.select().from(webhooks)).toHaveLength(0);
    });
  });

  describe('POST', () => {
    it('creates a webhook (201, Location) and shows its generated secret once', async () => {
      const response = await send('POST', '/admin/webhooks', {
        url: 'https://alerts.example.com/quotagate',
        description: 'on-call',
      });
      expect(response.statusCode).toBe(201);
      const body = response.json();
      expect(body).toEqual({
        id: expect.any(Number),
        url: 'https://alerts.example.com/quotagate',
        description: 'on-call',
        enabled: true,
        createdAt: iso(NOW),
        updatedAt: iso(NOW),
        secret: expect.stringMatching(SECRET),
      });
      expect(response.headers.location).toBe(`/admin/webhooks/${body.id}`);
      // At least 24 random bytes, the Standard Webhooks minimum.
      expect(Buffer.from(body.secret.slice('whsec_'.length), 'base64').length).toBeGreaterThanOrEqual(24);

      const read = await send('GET', `/admin/webhooks/${body.id}`);
      expect(read.statusCode).toBe(200);
      expect(read.json()).toEqual({ ...body, secret: undefined });
      expect(read.body).not.toContain(body.secret);
      const list = await send('GET', '/admin/webhooks');
      expect(list.body).not.toContain('secret');
      expect(list.json().items).toContainEqual({ ...body, secret: undefined });
    });

    it('gives every webhook its own secret', async () => {
      const [a, b] = [await create(), await create()];
      expect(a.secret).not.toBe(b.secret);
    });

    it('takes enabled: false', async () => {
      const created = await create({ enabled: false });
      expect((await send('GET', `/admin/webhooks/${created.id}`)).json()).toMatchObject({ enabled: false });
    });

    it('audits the creation without the secret', async () => {
      const created = await create({ description: 'audited' });
      const rows = await auditOf(t, 'webhook', created.id);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ actor: 'ops', action: 'webhook.create', before: null });
      expect(rows[0]!.after).toMatchObject({ id: created.id, url: created.url, description: 'audited' });
      expect(JSON.stringify(rows)).not.toContain(created.secret);
      expect(JSON.stringify(rows)).not.toContain('secret');
    });
  });

  describe('POST refusals', () => {
    it.each([
      ['a relative URL', '/hook'],
      ['another scheme', 'ftp://alerts.example.com/q'],
      ['not a URL', 'alerts'],
      ['a URL over 2048 characters', `https://alerts.example.com/${'a'.repeat(2030)}`],
      ['a number', 42],
    ])('refuses %s, naming url', async (_what, url) => {
      expectInvalid(await send('POST', '/admin/webhooks', { url }), 'url');
    });

    it('needs a url, takes a 2048-character one, and refuses unknown fields and bad types by name', async () => {
      const missing = await send('POST', '/admin/webhooks', { description: 'x' });
      expectInvalid(missing, 'url');
      expect(missing.json().errors).toEqual([
        { field: 'url', message: 'required: an absolute http or https URL' },
      ]);
      const longest = `https://alerts.example.com/${'a'.repeat(2048 - 'https://alerts.example.com/'.length)}`;
      expect((await send('POST', '/admin/webhooks', { url: longest })).statusCode).toBe(201);
      expectInvalid(
        await send('POST', '/admin/webhooks', { url: 'https://a.example/', secret: 'whsec_x' }),
        'secret',
      );
      expectInvalid(
        await send('POST', '/admin/webhooks', { url: 'https://a.example/', enabled: 'yes' }),
        'enabled',
      );
      expectInvalid(
        await send('POST', '/admin/webhooks', { url: 'https://a.example/', description: 'x'.repeat(1001) }),
        'description',
      );
    });
  });

  describe('credentials in the url', () => {
    const withCredentials = [
      ['user and password', 'https://ops:hunter2-secret@alerts.example.com/q'],
      ['a user alone', 'https://ops@alerts.example.com/q'],
      ['a password alone', 'https://:hunter2-secret@alerts.example.com/q'],
    ];

    it.each(withCredentials)('refuses %s on create (400 naming url), storing nothing', async (_what, url) => {
      const before = (await t.database.db.select().from(webhooks)).length;
      const response = await send('POST', '/admin/webhooks', { url });
      expectInvalid(response, 'url');
      expect(response.json().errors).toContainEqual({
        field: 'url',
        message: 'must not contain a user name or password (user:password@)',
      });
      expect(response.body).not.toContain('hunter2');
      expect(await t.database.db.select().from(webhooks)).toHaveLength(before);
    });

    it.each(withCredentials)('refuses %s on PATCH, leaving the url as it was', async (_what, url) => {
      const { id } = await create();
      expectInvalid(await send('PATCH', `/admin/webhooks/${id}`, { url }), 'url');
      expect((await send('GET', `/admin/webhooks/${id}`)).json().url).toBe('https://alerts.example.com/q');
      expect(JSON.stringify(await auditOf(t, 'webhook', id))).not.toContain('hunter2');
    });
  });

  describe('PATCH', () => {
    it('changes url, description and enabled; audited without the secret', async () => {
      const created = await create({ description: 'before' });
      const later = NOW + 60_000;
      const response = await send(
        'PATCH',
        `/admin/webhooks/${created.id}`,
        { url: 'http://127.0.0.1:9/other', description: null, enabled: false },
        later,
      );
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json()).toMatchObject({
        id: created.id,
        url: 'http://127.0.0.1:9/other',
        description: null,
        enabled: false,
        createdAt: iso(NOW),
        updatedAt: iso(later),
      });
      expect(response.body).not.toContain('secret');
      const [, update] = await auditOf(t, 'webhook', created.id);
      expect(update).toMatchObject({
        action: 'webhook.update',
        before: { description: 'before', enabled: true, url: created.url },
        after: { description: null, enabled: false, url: 'http://127.0.0.1:9/other' },
      });
      expect(JSON.stringify(update)).not.toContain(created.secret);
      // The secret is kept: it still signs.
      const [row] = await t.database.db.select().from(webhooks).where(eq(webhooks.id, created.id));
      expect(row!.secret).toBe(created.secret);
    });

    it('refuses an empty change, a bad url and unknown fields', async () => {
      const { id } = await create();
      const empty = await send('PATCH', `/admin/webhooks/${id}`, {});
      expect(empty.statusCode).toBe(400);
      expectInvalid(await send('PATCH', `/admin/webhooks/${id}`, { url: 'mailto:ops@example.com' }), 'url');
      expectInvalid(await send('PATCH', `/admin/webhooks/${id}`, { secret: 'whsec_AAAA' }), 'secret');
    });
  });

  describe('unknown ids', () => {
    it.each([
      ['GET', '/admin/webhooks/999999', undefined],
      ['PATCH', '/admin/webhooks/999999', { enabled: false }],
      ['DELETE', '/admin/webhooks/999999', undefined],
      ['GET', '/admin/webhooks/999999/deliveries', undefined],
      ['POST', '/admin/webhooks/999999/test', undefined],
    ] as const)('%s %s answers 404', async (method, url, body) => {
      const response = await send(method, url, body);
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: 'not_found', detail: 'webhook 999999 does not exist' });
    });

    it('refuses an id that is not a number, naming id', async () => {
      expectInvalid(await send('GET', '/admin/webhooks/abc'), 'id');
    });
  });

  describe('DELETE', () => {
    it('deletes (204) with its deliveries, audited; 404 after', async () => {
      const created = await create();
      expect((await send('POST', `/admin/webhooks/${created.id}/test`)).statusCode).toBe(202);
      const response = await send('DELETE', `/admin/webhooks/${created.id}`);
      expect(response.statusCode).toBe(204);
      expect((await send('GET', `/admin/webhooks/${created.id}`)).statusCode).toBe(404);
      const left = await t.database.db
        .select()
        .from(webhookDeliveries)
        .where(eq(webhookDeliveries.webhookId, created.id));
      expect(left).toHaveLength(0);
      const audit = await auditOf(t, 'webhook', created.id);
      expect(audit.map((a) => a.action)).toEqual(['webhook.create', 'webhook.test', 'webhook.delete']);
      expect(audit[2]).toMatchObject({ before: { id: created.id, url: created.url }, after: null });
      expect(JSON.stringify(audit)).not.toContain(created.secret);
    });
  });

  describe('test events and the deliveries log', () => {
    it('enqueues a webhook.test event for that webhook only (202) and lists it as pending', async () => {
      const [target, other] = [await create(), await create()];
      const response = await send('POST', `/admin/webhooks/${target.id}/test`);
      expect(response.statusCode).toBe(202);
      const { eventId } = response.json();
      expect(eventId).toMatch(/^evt_[0-9a-f]{32}$/);

      const [event] = await t.database.db.select().from(webhookEvents).where(eq(webhookEvents.id, eventId));
      expect(event).toMatchObject({ type: 'webhook.test' });
      expect(event!.payload).toEqual({
        type: 'webhook.test',
        timestamp: iso(NOW),
        data: { webhookId: target.id, message: expect.any(String) },
      });

      const log = await send('GET', `/admin/webhooks/${target.id}/deliveries`);
      expect(log.statusCode).toBe(200);
      expect(log.json().items).toEqual([
        {
          id: expect.any(Number),
          eventId,
          eventType: 'webhook.test',
          status: 'pending',
          attempts: 0,
          lastStatusCode: null,
          lastError: null,
          lastAttemptAt: null,
          nextAttemptAt: iso(NOW),
          createdAt: iso(NOW),
          deliveredAt: null,
        },
      ]);
      expect((await send('GET', `/admin/webhooks/${other.id}/deliveries`)).json().items).toEqual([]);
    });

    it('lists newest first, honours limit and status, and refuses bad queries by name', async () => {
      const { id } = await create();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        ids.push(
          (await send('POST', `/admin/webhooks/${id}/test`, undefined, NOW + i * 1000)).json().eventId,
        );
      }
      const log = await send('GET', `/admin/webhooks/${id}/deliveries?limit=2`);
      expect(log.json().items.map((d: { eventId: string }) => d.eventId)).toEqual([ids[2], ids[1]]);
      const delivered = await send('GET', `/admin/webhooks/${id}/deliveries?status=delivered`);
      expect(delivered.json().items).toEqual([]);
      expectInvalid(await send('GET', `/admin/webhooks/${id}/deliveries?limit=0`), 'limit');
      expectInvalid(await send('GET', `/admin/webhooks/${id}/deliveries?status=lost`), 'status');
    });
  });
});

describeWithPostgres('/admin/webhooks with WEBHOOK_ALLOWED_HOSTS', () => {
  const databaseUrl = useTestDatabase();
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      databaseUrl: databaseUrl(),
      env: { WEBHOOK_ALLOWED_HOSTS: 'alerts.example.com, *.hooks.example.net, 127.0.0.0/8, fd00::/8' },
    });
  });
  afterAll(() => t?.close());

  const send = (method: 'POST' | 'PATCH', url: string, body: object) =>
    t.inject({ method, url, headers: ADMIN, payload: body });

  it.each([
    'https://alerts.example.com/q',
    'https://ALERTS.example.com./q',
    'https://a.hooks.example.net/q',
    'https://b.a.hooks.example.net/q',
    'http://127.0.0.1:9/q',
    'http://127.200.0.1/q',
    'http://[fd00::1]/q',
  ])('accepts %s', async (url) => {
    const response = await send('POST', '/admin/webhooks', { url });
    expect(response.statusCode, response.body).toBe(201);
  });

  it.each([
    ['another name', 'https://alerts.example.org/q'],
    ['the bare domain of a *. entry', 'https://hooks.example.net/q'],
    ['a name only ending like an entry', 'https://evilalerts.example.com/q'],
    ['an address outside the CIDRs', 'http://10.1.2.3/q'],
    ['an IPv6 address outside the CIDRs', 'http://[::1]/q'],
    ['an IPv4-mapped address outside the CIDRs', 'http://[::ffff:10.0.0.1]/q'],
  ])('refuses %s on create (400 naming url)', async (_what, url) => {
    const before = (await t.database.db.select().from(webhooks)).length;
    const response = await send('POST', '/admin/webhooks', { url });
    expectInvalid(response, 'url');
    expect(response.json().errors[0].message).toMatch(/^not allowed: .*WEBHOOK_ALLOWED_HOSTS/);
    expect(await t.database.db.select().from(webhooks)).toHaveLength(before);
  });

  it('refuses a PATCH to a host not on the list, and takes one that is', async () => {
    const created = await send('POST', '/admin/webhooks', { url: 'https://alerts.example.com/q' });
    const { id } = created.json() as { id: number };
    expectInvalid(await send('PATCH', `/admin/webhooks/${id}`, { url: 'http://10.0.0.1/q' }), 'url');
    const kept = await t.inject({ method: 'GET', url: `/admin/webhooks/${id}`, headers: ADMIN });
    expect(kept.json().url).toBe('https://alerts.example.com/q');
    const moved = await send('PATCH', `/admin/webhooks/${id}`, { url: 'https://x.hooks.example.net/q' });
    expect(moved.statusCode, moved.body).toBe(200);
    // A change that leaves the url alone is not checked again.
    expect((await send('PATCH', `/admin/webhooks/${id}`, { enabled: false })).statusCode).toBe(200);
  });
});
