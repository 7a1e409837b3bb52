import { describe, expect, it } from 'vitest';
import { ADMIN, SERVICE } from '../support/app.js';
import { describeWithServers } from '../support/services.js';
import { authz } from './authz/support.js';
import {
  T0,
  expectAllowed,
  expectProblem,
  keyOf,
  ledgerRow,
  uid,
  useServersGate,
  type Answer,
  type Gate,
} from './decisions/support.js';

/**
 * Issue 23: text PostgreSQL cannot store, amounts a gateway's floats produce, and admin input
 * that used to end in a 500 or a 414. Every refusal is a 400 naming the field.
 */
const NUL = 'a\u0000b';
const CONTROLS = [NUL, 'bell\u0007', 'esc\u001b[0m', 'del\u007f', 'c1\u0085'];

/** A JSON object nested `depth` levels deep (the outer object is level 1). */
function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: 1 };
  for (let level = 1; level < depth; level++) value = { n: value };
  return value;
}

const get = async (g: Gate, url: string): Promise<Answer> => {
  const raw = await g.t.inject({ method: 'GET', url, headers: ADMIN });
  return { status: raw.statusCode, body: raw.json(), headers: raw.headers, raw };
};

describeWithServers('hostile input', () => {
  const gate = useServersGate();
  const demand = () => ({ userId: uid('u'), model: uid('model') });

  describe('control characters in decision bodies', () => {
    it('refuses a requestId with a NUL or another control character on /reserve, /settle, /release and /extend', async () => {
      const g = gate();
      for (const requestId of CONTROLS) {
        expectProblem(await g.reserve({ ...demand(), requestId }, T0), 400, 'validation_failed', 'requestId');
        expectProblem(
          await g.settle({ ...demand(), requestId, costUsd: 0.01 }, T0),
          400,
          'validation_failed',
          'requestId',
        );
        expectProblem(await g.release(requestId, T0), 400, 'validation_failed', 'requestId');
        const extend = await g.t.inject({
          method: 'POST',
          url: '/extend',
          headers: { ...SERVICE, 'x-quota-test-now': String(T0) },
          payload: { requestId, ttlSeconds: 60 },
        });
        expectProblem(
          { status: extend.statusCode, body: extend.json(), headers: extend.headers, raw: extend },
          400,
          'validation_failed',
          'requestId',
        );
      }
    });

    it('refuses ids, models, session ids and group names with control characters, naming the field', async () => {
      const g = gate();
      for (const bad of CONTROLS) {
        const cases: [Record<string, unknown>, string][] = [
          [{ userId: bad }, 'userId'],
          [{ keyId: bad }, 'keyId'],
          [{ model: bad }, 'model'],
          [{ sessionId: bad }, 'sessionId'],
          [{ groups: ['pro', bad] }, 'groups.1'],
        ];
        for (const [fields, field] of cases) {
          const body = { ...demand(), ...fields };
          expectProblem(await g.check(body, T0), 400, 'validation_failed', field);
          expectProblem(
            await g.reserve({ ...body, requestId: uid('r') }, T0),
            400,
            'validation_failed',
            field,
          );
        }
        expectProblem(
          await g.settle({ ...demand(), requestId: uid('r'), costUsd: 0.01, groups: [bad] }, T0),
          400,
          'validation_failed',
          'groups.0',
        );
      }
    });

    it('refuses control characters in /usage query fields', async () => {
      const g = gate();
      for (const [query, field] of [
        [{ userId: NUL }, 'userId'],
        [{ userId: 'u', keyId: NUL }, 'keyId'],
        [{ userId: 'u', model: NUL }, 'model'],
        [{ userId: 'u', groups: `pro,${NUL}` }, 'groups'],
      ] as const) {
        expectProblem(await g.usage(query, T0), 400, 'validation_failed', field);
      }
    });

    it('a refused NUL request id leaves nothing behind: the same body with a clean id is admitted', async () => {
      const g = gate();
      const body = demand();
      expectProblem(await g.reserve({ ...body, requestId: NUL }, T0), 400, 'validation_failed', 'requestId');
      expectAllowed(await g.reserve({ ...body, requestId: uid('r') }, T0));
    });
  });

  describe('settle metadata', () => {
    const settle = (g: Gate, metadata: unknown) =>
      g.settle({ ...demand(), requestId: uid('r'), costUsd: 0.01, metadata }, T0);

    it('refuses control characters in any key or string value at any depth', async () => {
      const g = gate();
      for (const metadata of [
        { note: NUL },
        { [NUL]: 1 },
        { a: { b: [1, 'ok', 'x\u0001'] } },
        { a: [{ ['k\u0000']: 'v' }] },
      ]) {
        expectProblem(await settle(g, metadata), 400, 'validation_failed', 'metadata');
      }
    });

    it('stores multi-line strings, unicode and 16 levels of nesting', async () => {
      const g = gate();
      const metadata = { note: 'line 1\nline 2\tend\r\n', emoji: '👩‍💻', deep: nested(15) };
      const requestId = uid('r');
      const settled = await g.settle({ ...demand(), requestId, costUsd: 0.01, metadata }, T0);
      expect(settled.status, JSON.stringify(settled.body)).toBe(200);
      expect((await ledgerRow(g, requestId))?.metadata).toEqual(metadata);
    });

    it('refuses metadata nested deeper than 16 levels with a 400, 5,000 levels included', async () => {
      const g = gate();
      expectProblem(await settle(g, { deep: nested(16) }), 400, 'validation_failed', 'metadata');
      // As text: serializing 5,000 levels would overflow the test's own stack.
      const deep = `${'{"n":'.repeat(4_999)}{"leaf":1}${'}'.repeat(4_999)}`;
      const raw = await g.t.inject({
        method: 'POST',
        url: '/settle',
        headers: { ...SERVICE, 'content-type': 'application/json', 'x-quota-test-now': String(T0) },
        payload: `{"userId":"u","model":"m","requestId":"${uid('r')}","costUsd":0.01,"metadata":${deep}}`,
      });
      expect(raw.statusCode, raw.body).toBe(400);
      expect(raw.json().errors).toEqual([{ field: 'metadata', message: 'must nest at most 16 levels deep' }]);
    });

    it('refuses metadata with more than 1000 values', async () => {
      const g = gate();
      const wide = Object.fromEntries(Array.from({ length: 1_001 }, (_, i) => [`k${i}`, i]));
      expectProblem(await settle(g, wide), 400, 'validation_failed', 'metadata');
    });
  });

  describe('float costs on the data plane (SPEC §1)', () => {
    it('charges 0.30000000000000004 as exactly $0.300000 on /settle', async () => {
      const g = gate();
      const requestId = uid('r');
      const settled = await g.settle({ ...demand(), requestId, costUsd: 0.1 + 0.2 }, T0);
      expect(settled.status, JSON.stringify(settled.body)).toBe(200);
      expect(settled.body.costUsd).toBe(0.3);
      expect((await ledgerRow(g, requestId))?.costMicros).toBe(300_000);
    });

    it('rounds to the nearest micro-dollar, halves up, from numbers and decimal strings', async () => {
      const g = gate();
      const cases: [number | string, number][] = [
        [0.0000005, 1],
        ['0.0000005', 1],
        [1e-7, 0],
        ['0.0000004999', 0],
        ['0.1234565', 123_457],
        [12.3456784, 12_345_678],
        [2.5e-6, 3],
      ];
      for (const [costUsd, micros] of cases) {
        const requestId = uid('r');
        const settled = await g.settle({ ...demand(), requestId, costUsd }, T0);
        expect(settled.status, `${costUsd}: ${JSON.stringify(settled.body)}`).toBe(200);
        expect((await ledgerRow(g, requestId))?.costMicros, String(costUsd)).toBe(micros);
      }
    });

    it('holds a rounded estimate on /reserve', async () => {
      const g = gate();
      const body = demand();
      await g.limit({
        subjectType: 'user',
        subjectId: body.userId,
        metric: 'cost',
        window: 'daily',
        limit: 1,
      });
      const held = async (estimatedCostUsd: number | string) => {
        expectAllowed(await g.reserve({ ...body, estimatedCostUsd, requestId: uid('r') }, T0));
        const usage = await g.usage({ userId: body.userId }, T0);
        const bucket = usage.body.buckets.find(
          (b: { key: string }) => b.key === keyOf('user', body.userId, null, 'cost', 'daily'),
        );
        return bucket.held as number;
      };
      expect(await held(0.0000005)).toBe(0.000001);
      expect(await held(1e-7)).toBe(0.000001);
      expect(await held('0.0000025')).toBe(0.000004);
    });

    it('rounds X-Quota-Estimated-Cost on /authz the same way', async () => {
      const g = gate();
      const user = uid('u');
      await g.limit({
        subjectType: 'user',
        subjectId: user,
        metric: 'cost',
        window: 'daily',
        limit: 0.000001,
      });
      const ask = (cost: string) => authz(g, { 'x-quota-user': user, 'x-quota-estimated-cost': cost }, T0);
      expect((await ask('0.0000014')).status).toBe(200);
      expect((await ask('0.0000015')).status).toBe(429);
    });

    it('still refuses negative, non-finite and non-numeric amounts', async () => {
      const g = gate();
      for (const costUsd of [-0.0000001, '-0.0000001', -1, 'NaN', 'Infinity', '1e3', 'abc', '', true]) {
        const settle = await g.settle({ ...demand(), requestId: uid('r'), costUsd }, T0);
        expectProblem(settle, 400, 'validation_failed', 'costUsd');
      }
      for (const cost of ['-0.0000001', 'NaN', 'abc']) {
        const a = await authz(g, { 'x-quota-user': uid('u'), 'x-quota-estimated-cost': cost }, T0);
        expectProblem(a, 400, 'validation_failed', 'x-quota-estimated-cost');
      }
    });

    it('keeps the 6-decimal rule for admin amounts', async () => {
      const g = gate();
      const limit = { subjectType: 'user', subjectId: uid('u'), metric: 'cost', window: 'daily' };
      for (const value of [0.0000005, '0.1234567']) {
        const put = await g.admin('PUT', '/admin/limits', { ...limit, limit: value });
        expectProblem(put, 400, 'validation_failed', 'limit');
      }
      const boost = await g.admin('POST', '/admin/boosts', {
        ...limit,
        amount: '1.0000001',
        expiresAt: '2027-03-02T00:00:00Z',
      });
      expectProblem(boost, 400, 'validation_failed', 'amount');
    });
  });

  describe('admin input that used to answer 500', () => {
    it('refuses control characters in group and webhook descriptions, keeping line breaks and tabs', async () => {
      const g = gate();
      for (const kind of ['model-groups', 'user-groups']) {
        for (const description of CONTROLS) {
          const created = await g.admin('POST', `/admin/${kind}`, { name: uid('g'), description });
          expectProblem(created, 400, 'validation_failed', 'description');
        }
        const ok = await g.admin('POST', `/admin/${kind}`, { name: uid('g'), description: 'a\n\tb\r\n' });
        expect(ok.status, JSON.stringify(ok.body)).toBe(201);
        expect(ok.body.description).toBe('a\n\tb\r\n');
        const { id } = ok.body as { id: number };
        const patched = await g.t.inject({
          method: 'PATCH',
          url: `/admin/${kind}/${id}`,
          headers: ADMIN,
          payload: { description: NUL },
        });
        expect(patched.statusCode, patched.body).toBe(400);
        expect(patched.json().errors.map((e: { field: string }) => e.field)).toContain('description');
      }
      const webhook = await g.admin('POST', '/admin/webhooks', {
        url: 'https://alerts.example.com/quotagate',
        description: NUL,
      });
      expectProblem(webhook, 400, 'validation_failed', 'description');
    });

    it('refuses a boost reason with a NUL', async () => {
      const g = gate();
      const boost = await g.admin('POST', '/admin/boosts', {
        subjectType: 'user',
        subjectId: uid('u'),
        metric: 'requests',
        window: 'daily',
        amount: 5,
        expiresAt: '2027-03-02T00:00:00Z',
        reason: `launch ${NUL}`,
      });
      expectProblem(boost, 400, 'validation_failed', 'reason');
    });

    it('refuses ?subjectId=%00 on the limit, boost and reset lists', async () => {
      const g = gate();
      for (const list of ['limits', 'boosts', 'resets']) {
        for (const subjectId of ['%00', 'u%00', '%07']) {
          const a = await get(g, `/admin/${list}?subjectId=${subjectId}`);
          expectProblem(a, 400, 'validation_failed', 'subjectId');
        }
      }
    });

    it('refuses control characters in the other admin text fields, naming each', async () => {
      const g = gate();
      expectProblem(await get(g, '/admin/models/resolve?model=%00'), 400, 'validation_failed', 'model');
      const group = await g.modelGroup([uid('model')]);
      const raw = await g.t.inject({
        method: 'DELETE',
        url: `/admin/model-groups/${group.id}/models?model=m%00`,
        headers: ADMIN,
      });
      expect(raw.statusCode, raw.body).toBe(400);
      const limit = { subjectType: 'user', subjectId: uid('u'), metric: 'requests', limit: 5 };
      for (const [fields, field] of [
        [{ window: `5h${NUL}` }, 'window'],
        [{ window: 'daily', timezone: `Europe/Berlin${NUL}` }, 'timezone'],
        [{ window: 'daily', resetTime: '04:0\u0000' }, 'resetTime'],
        [{ window: 'daily', subjectId: NUL }, 'subjectId'],
      ] as const) {
        const put = await g.admin('PUT', '/admin/limits', { ...limit, ...fields });
        expectProblem(put, 400, 'validation_failed', field);
      }
      const named = await g.admin('POST', '/admin/user-groups', { name: `pro${NUL}` });
      expectProblem(named, 400, 'validation_failed', 'name');
      const members = await g.userGroup();
      const added = await g.admin('POST', `/admin/user-groups/${members.id}/members`, {
        userIds: ['ok', NUL],
      });
      expectProblem(added, 400, 'validation_failed', 'userIds.1');
    });

    it('refuses instants outside years 0001–9999 (PostgreSQL has no year 0000)', async () => {
      const g = gate();
      const boost = {
        subjectType: 'user',
        subjectId: uid('u'),
        metric: 'requests',
        window: 'daily',
        amount: 5,
      };
      for (const startsAt of ['0000-01-01T00:00:00Z', '0001-01-01T00:30:00+01:00']) {
        const a = await g.admin('POST', '/admin/boosts', {
          ...boost,
          startsAt,
          expiresAt: '2027-03-02T00:00:00Z',
        });
        expectProblem(a, 400, 'validation_failed', 'startsAt');
      }
      const late = await g.admin('POST', '/admin/boosts', {
        ...boost,
        expiresAt: '9999-12-31T23:00:00-05:00',
      });
      expectProblem(late, 400, 'validation_failed', 'expiresAt');
      const limit = await g.admin('PUT', '/admin/limits', {
        subjectType: 'user',
        subjectId: uid('u'),
        metric: 'requests',
        window: '1h',
        reset: 'fixed',
        anchor: '0000-06-01T00:00:00Z',
        limit: 5,
      });
      expectProblem(limit, 400, 'validation_failed', 'anchor');
      const first = await g.admin('POST', '/admin/boosts', {
        ...boost,
        startsAt: '0001-01-01T00:00:00Z',
        expiresAt: '9999-12-31T23:59:59Z',
      });
      expect(first.status, JSON.stringify(first.body)).toBe(201);
    });

    it('removes members whose ids are 101–256 characters, percent-encoded ones included', async () => {
      const g = gate();
      const ids = ['m'.repeat(101), 'm'.repeat(256), '€'.repeat(256), `${'😀'.repeat(127)}/x`];
      const group = await g.userGroup(ids);
      for (const id of ids) {
        const url = `/admin/user-groups/${group.id}/members/${encodeURIComponent(id)}`;
        const removed = await g.t.inject({ method: 'DELETE', url, headers: ADMIN });
        expect(removed.statusCode, `${id.length} chars: ${removed.body}`).toBe(200);
        expect(removed.json().members).not.toContain(id);
      }
      const tooLong = `/admin/user-groups/${group.id}/members/${'m'.repeat(257)}`;
      const refused = await g.t.inject({ method: 'DELETE', url: tooLong, headers: ADMIN });
      expect(refused.statusCode).toBe(400);
      expect(refused.json().errors.map((e: { field: string }) => e.field)).toContain('userId');
    });
  });
});
