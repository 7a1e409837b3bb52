import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    expect(response.headers.allow).toBeUndefined();
  });

  describe('validation messages say what a field takes', () => {
    const errorsOf = async (payload: string, url = '/admin/model-groups') => {
      const response = await t.inject({
        method: 'POST',
        url,
        headers: { ...ADMIN, 'content-type': 'application/json' },
        payload,
      });
      expect(response.statusCode, response.body).toBe(400);
      expect(response.json().code).toBe('validation_failed');
      return response.json().errors;
    };

    it('calls a missing field required, naming its type', async () => {
      expect(await errorsOf('{}')).toEqual([{ field: 'name', message: 'required: a string' }]);
    });

    it('names the expected and the received type of a wrong one', async () => {
      expect(await errorsOf(JSON.stringify({ name: 42 }))).toEqual([
        { field: 'name', message: 'expected a string, received a number' },
      ]);
      expect(await errorsOf('[]')).toEqual([
        { field: 'body', message: 'expected a JSON object, received an array' },
      ]);
    });

    it('calls an absent body required', async () => {
      const response = await t.inject({ method: 'POST', url: '/admin/model-groups', headers: ADMIN });
      expect(response.statusCode).toBe(400);
      expect(response.json().errors).toEqual([{ field: 'body', message: 'required: a JSON object' }]);
    });

    it('says bounds in words', async () => {
      expect(await errorsOf(JSON.stringify({ name: '' }))).toEqual([
        { field: 'name', message: 'must not be empty' },
      ]);
      expect(await errorsOf(JSON.stringify({ name: 'n'.repeat(101) }))).toEqual([
        { field: 'name', message: 'must be at most 100 characters' },
      ]);
    });

    it('gives a number past 2^53 one maximum, the field’s own', async () => {
      const body = JSON.stringify({ userId: 'u', model: 'm', requestId: 'r', ttlSeconds: 1e20 });
      expect(await errorsOf(body, '/reserve')).toEqual([
        { field: 'ttlSeconds', message: 'must be at most 86400' },
      ]);
    });
  });

  describe('a known path with another method', () => {
    it.each([
      ['PATCH', '/admin/limits', 'GET, HEAD, PUT'],
      ['PUT', '/admin/model-groups/1', 'GET, HEAD, PATCH, DELETE'],
      ['GET', '/reserve', 'POST'],
      ['DELETE', '/check', 'POST'],
      ['POST', '/healthz', 'GET, HEAD'],
    ] as const)('answers %s %s with 405 and Allow: %s', async (method, url, allow) => {
      const response = await t.inject({ method, url, headers: ADMIN });
      expect(response.statusCode).toBe(405);
      expect(response.headers['content-type']).toContain(PROBLEM);
      expect(response.headers.allow).toBe(allow);
      expect(response.json()).toMatchObject({
        status: 405,
        code: 'method_not_allowed',
        type: 'urn:quotagate:problem:method_not_allowed',
        detail: `${url} does not take ${method}; it takes ${allow}`,
      });
    });

    it('answers 405 before authentication: the paths are public in the OpenAPI document', async () => {
      const response = await t.inject({ method: 'GET', url: '/settle' });
      expect(response.statusCode).toBe(405);
      expect(response.headers.allow).toBe('POST');
    });
  });

  describe('bodies that are not JSON', () => {
    const BODIES = [
      ['text/plain', 'name=opus'],
      ['text/plain; charset=utf-8', '{"name":"opus"}'],
      ['application/x-www-form-urlencoded', 'name=opus'],
      ['application/xml', '<name>opus</name>'],
    ] as const;

    it('answers 415 on every POST, PUT and PATCH route of the JSON API, whatever it validates', async () => {
      // Forward auth (/authz) takes whatever a proxy forwards; the JSON API is tagged admin or decisions.
      type Operation = { tags?: string[] };
      const document = (await t.inject({ method: 'GET', url: '/openapi.json' })).json();
      const routes = Object.entries(document.paths as Record<string, Record<string, Operation>>).flatMap(
        ([path, operations]) =>
          ['post', 'put', 'patch']
            .filter((method) =>
              operations[method]?.tags?.some((tag) => tag === 'admin' || tag === 'decisions'),
            )
            .map((method) => ({ method, url: path.replace(/\{[^}]+\}/g, '1') })),
      );
      expect(routes.length).toBeGreaterThan(15);
      for (const { method, url } of routes) {
        for (const [contentType, payload] of BODIES) {
          const response = await t.inject({
            method: method.toUpperCase() as 'POST' | 'PUT' | 'PATCH',
            url,
            headers: { ...ADMIN, 'content-type': contentType },
            payload,
          });
          expect(response.statusCode, `${method} ${url} ${contentType}: ${response.body}`).toBe(415);
          expect(response.json()).toMatchObject({ code: 'unsupported_media_type' });
        }
      }
    });
  });

  describe('prototype keys in a JSON body', () => {
    it.each([
      ['__proto__', '{"name":"proto-1","__proto__":{"admin":true}}'],
      ['__proto__', '{"name":"proto-2","\\u005f_proto__":{"admin":true}}'],
      ['constructor.prototype', '{"name":"proto-3","constructor":{"prototype":{"admin":true}}}'],
      ['models.0.__proto__', '{"name":"proto-4","models":[{"__proto__":{}}]}'],
    ])('names %s as the field, not malformed JSON, and creates nothing', async (field, payload) => {
      const response = await post(payload);
      expect(response.statusCode).toBe(400);
      expect(response.headers['content-type']).toContain(PROBLEM);
      expect(response.json()).toMatchObject({
        code: 'validation_failed',
        errors: [{ field, message: 'is not allowed' }],
      });
      const groups = (await t.inject({ method: 'GET', url: '/admin/model-groups', headers: ADMIN })).json();
      expect(groups.items.filter((g: { name: string }) => g.name.startsWith('proto-'))).toEqual([]);
    });

    it('names a nested key on the decision endpoints too', async () => {
      const response = await t.inject({
        method: 'POST',
        url: '/settle',
        headers: { ...SERVICE, 'content-type': 'application/json' },
        payload: '{"requestId":"r-1","costUsd":1,"metadata":{"__proto__":{"x":1}}}',
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().errors).toEqual([{ field: 'metadata.__proto__', message: 'is not allowed' }]);
    });

    it('still calls a plain "constructor" or "prototype" key an ordinary field', async () => {
      const response = await post('{"name":"proto-ok","constructor":"x"}');
      expect(response.json().errors).toEqual([{ field: 'constructor', message: 'unknown field' }]);
    });
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

  it('names the Bearer scheme in WWW-Authenticate on every 401, admin and decision endpoints alike', async () => {
    for (const [method, url] of [
      ['GET', '/admin/limits'],
      ['PUT', '/admin/limits'],
      ['POST', '/check'],
      ['POST', '/reserve'],
      ['GET', '/usage?userId=u-1'],
    ] as const) {
      for (const headers of [{}, { authorization: 'Bearer not-a-token-at-all' }]) {
        const response = await t.inject({ method, url, headers });
        expect(response.statusCode, `${method} ${url}`).toBe(401);
        expect(response.headers['www-authenticate']).toBe('Bearer realm="quotagate"');
        expect(response.headers['content-type']).toContain(PROBLEM);
        expect(response.json()).toMatchObject({ status: 401, code: 'unauthorized' });
      }
    }
    const forbidden = await t.inject({ method: 'GET', url: '/admin/limits', headers: SERVICE });
    expect(forbidden.headers['www-authenticate']).toBeUndefined();
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
