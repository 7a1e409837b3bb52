import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE, startTestApp, type TestApp } from '../support/app.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';
import { NOW, auditOf, configVersionOf, expectInvalid, insertModelGroup, send } from './quota-support.js';

describeWithPostgres('/admin/resets', () => {
  const databaseUrl = useTestDatabase();
  let t: TestApp;
  let opus: number;
  beforeAll(async () => {
    t = await startTestApp({ databaseUrl: databaseUrl() });
    opus = await insertModelGroup(t, 'opus');
  });
  afterAll(() => t?.close());

  const post = (body: Record<string, unknown>, now = NOW) => send(t, 'POST', '/admin/resets', body, now);
  const reset = (extra: Record<string, unknown> = {}) => ({
    subjectType: 'user',
    subjectId: 'u-42',
    modelGroupId: opus,
    metric: 'cost',
    window: '5h',
    ...extra,
  });

  describe('auth', () => {
    it('answers 401 without a token', async () => {
      expect((await t.inject({ method: 'POST', url: '/admin/resets', payload: reset() })).statusCode).toBe(
        401,
      );
    });

    it('answers 403 to a service token', async () => {
      const response = await t.inject({ method: 'GET', url: '/admin/resets', headers: SERVICE });
      expect(response.statusCode).toBe(403);
    });
  });

  describe('POST', () => {
    it('writes a marker at the request time (201), keeping the window as written', async () => {
      const version = await configVersionOf(t);
      const response = await post(reset({ window: '300m' }));
      expect(response.statusCode).toBe(201);
      const marker = response.json();
      expect(marker).toEqual({
        id: expect.any(Number),
        subjectType: 'user',
        subjectId: 'u-42',
        modelGroupId: opus,
        metric: 'cost',
        window: '300m',
        resetAt: new Date(NOW).toISOString(),
        createdAt: new Date(NOW).toISOString(),
      });
      expect(await auditOf(t, 'reset_marker', marker.id)).toEqual([
        expect.objectContaining({ actor: 'ops', action: 'reset.create', before: null, after: marker }),
      ]);
      expect(await configVersionOf(t)).toBe(version + 1);
    });

    it('names the subject’s marker list in Location (a marker has no read of its own)', async () => {
      const response = await post(reset({ subjectId: 'u/ü 1' }));
      expect(response.statusCode).toBe(201);
      const location = response.headers.location as string;
      expect(location).toBe('/admin/resets?subjectType=user&subjectId=u%2F%C3%BC+1');
      const listed = await send(t, 'GET', location);
      expect(listed.json().items).toContainEqual(response.json());
    });

    it('defaults to the all-models scope and takes concurrency without a window', async () => {
      const response = await post({ subjectType: 'key', subjectId: 'k-9', metric: 'concurrency' });
      expect(response.statusCode).toBe(201);
      expect(response.json()).toMatchObject({ modelGroupId: null, window: null });
    });

    it('refuses a bad window', async () => {
      expectInvalid(await post(reset({ window: 'hourly' })), 'window');
      expectInvalid(await post(reset({ window: '401d' })), 'window');
      expectInvalid(await post(reset({ window: undefined })), 'window');
      expectInvalid(await post(reset({ metric: 'concurrency' })), 'window');
    });

    it('refuses a bad subject, metric or unknown field', async () => {
      expectInvalid(await post(reset({ subjectType: 'user_group' })), 'subjectType');
      expectInvalid(await post(reset({ subjectId: 'x'.repeat(257) })), 'subjectId');
      expectInvalid(await post(reset({ metric: 'bananas' })), 'metric');
      expect((await post(reset({ resetAt: new Date(NOW).toISOString() }))).statusCode).toBe(400);
    });

    it('answers 404 for a model group that does not exist', async () => {
      const response = await post(reset({ modelGroupId: 9999 }));
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: 'not_found', detail: 'model group 9999 does not exist' });
    });
  });

  describe('GET', () => {
    it('lists the markers of a subject, oldest first', async () => {
      const first = (await post(reset({ subjectId: 'u-list' }), NOW)).json();
      const second = (await post(reset({ subjectId: 'u-list', metric: 'requests' }), NOW + 1000)).json();
      await post(reset({ subjectType: 'key', subjectId: 'u-list' }));
      const response = await send(t, 'GET', '/admin/resets?subjectType=user&subjectId=u-list');
      expect(response.statusCode).toBe(200);
      expect(response.json().items).toEqual([first, second]);
    });

    it('refuses bad filters', async () => {
      expectInvalid(await send(t, 'GET', '/admin/resets?subjectType=team'), 'subjectType');
    });
  });
});
