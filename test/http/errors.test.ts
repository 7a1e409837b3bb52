import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN, SERVICE, startTestApp, type TestApp } from '../support/app.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';

const PROBLEM = 'application/problem+json';

describeWithPostgres('problem documents for bad input', () => {
  const databaseUrl = useTestDatabase();
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ databaseUrl: databaseUrl(), env: { BODY_LIMIT_BYTES: '2048' } });
  });
  afterAll(() => t?.close());

  const post = (payload: string, headers: Record<string, string> = {}) =>
    t.inject({
      method: 'POST',
      url: '/admin/model-groups',
      headers: { ...ADMIN, 'content-type': 'application/json', ...headers },
      payload,
    });

  it('answers malformed JSON with 400 malformed_json', async () => {
    const response = await post('{"name": "opus",');
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain(PROBLEM);
    expect(response.json()).toMatchObject({
      status: 400,
      code: 'malformed_json',
      type: 'urn:quotagate:problem:malformed_json',
    });
  });

  it('answers an oversized body with 413 payload_too_large', async () => {
    const response = await post(JSON.stringify({ name: 'x'.repeat(4096) }));
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ code: 'payload_too_large' });
  });

  it('answers a non-JSON content type with 415', async () => {
    const response = await post('name=opus', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(response.statusCode).toBe(415);
    expect(response.json()).toMatchObject({ code: 'unsupported_media_type' });
  });

  it('names the invalid field', async () => {
    const response = await post(JSON.stringify({ name: 42 }));
    expect(response.statusCode).toBe(400);
    const body = response.json();
    expect(body.code).toBe('validation_failed');
    expect(body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'name' })]));
  });

  it('never leaks a stack trace', async () => {
    for (const payload of ['{', '[]', 'null', '"x"', JSON.stringify({ name: '' })]) {
      const response = await post(payload);
      expect(response.statusCode).toBeGreaterThanOrEqual(400);
      expect(response.statusCode).toBeLessThan(500);
      expect(response.body).not.toMatch(/\bat .*\.(ts|js):\d+/);
    }
  });

  it('answers an unknown route with a 404 problem', async () => {
    const response = await t.inject({ method: 'GET', url: '/nowhere', headers: ADMIN });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: 'route_not_found' });
  });
});

describeWithPostgres('authentication', () => {
  const databaseUrl = useTestDatabase();
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ databaseUrl: databaseUrl() });
  });
  afterAll(() => t?.close());

  it('answers 401 without a token and with an unknown one', async () => {
    for (const headers of [
      {},
      { authorization: 'Bearer not-a-token-at-all' },
      { authorization: 'Basic abc' },
    ]) {
      const response = await t.inject({ method: 'GET', url: '/admin/model-groups', headers });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ code: 'unauthorized' });
    }
  });

  it('answers 403 to a service token on /admin', async () => {
    const response = await t.inject({ method: 'GET', url: '/admin/model-groups', headers: SERVICE });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ code: 'forbidden' });
  });

  it('leaves health, readiness, metrics and the OpenAPI document open', async () => {
    for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
      const response = await t.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(200);
    }
    const docs = await t.inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.headers['content-type']).toContain('text/html');
  });
});
