import { describe, expect, it } from 'vitest';
import { ADMIN } from '../../support/app.js';
import { describeWithServers } from '../../support/services.js';
import { T0, expectAllowed, expectProblem, uid, useServersGate } from './support.js';

// More than 6 decimals is not bad money on the data plane: it is rounded (test/http/hostile-input.test.ts).
const BAD_MONEY: unknown[] = [
  -0.0000001,
  -0.01,
  '-1',
  'abc',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e3',
  '0x10',
  '',
  '1.',
  '.5',
  '1,5',
  true,
  {},
  [],
];

describeWithServers('decision endpoints: bad input and auth', () => {
  const gate = useServersGate();
  const base = () => ({ userId: uid('u'), model: uid('model') });

  describe('money', () => {
    it('refuses a bad estimatedCostUsd on /check and /reserve, naming the field', async () => {
      const g = gate();
      for (const estimatedCostUsd of BAD_MONEY) {
        const check = await g.check({ ...base(), estimatedCostUsd }, T0);
        expectProblem(check, 400, 'validation_failed', 'estimatedCostUsd');
        const reserve = await g.reserve({ ...base(), estimatedCostUsd, requestId: uid('r') }, T0);
        expectProblem(reserve, 400, 'validation_failed', 'estimatedCostUsd');
      }
    });

    it('refuses a bad costUsd on /settle, naming the field and recording nothing', async () => {
      const g = gate();
      for (const costUsd of [...BAD_MONEY, undefined, null]) {
        const requestId = uid('r');
        const settle = await g.settle({ ...base(), requestId, costUsd }, T0);
        expectProblem(settle, 400, 'validation_failed', 'costUsd');
      }
    });

    it('accepts dollars as numbers or decimal strings with up to 6 decimals', async () => {
      const g = gate();
      for (const estimatedCostUsd of [0, '0', 0.000001, '0.000001', '12.345678', 1e-6, null]) {
        expectAllowed(await g.check({ ...base(), estimatedCostUsd }, T0));
      }
      const settled = await g.settle({ ...base(), requestId: uid('r'), costUsd: '0.000001' }, T0);
      expect(settled.body.costUsd).toBe(0.000001);
    });
  });

  describe('required and bounded fields', () => {
    it('needs userId and model', async () => {
      const g = gate();
      expectProblem(await g.check({ model: 'm' }, T0), 400, 'validation_failed', 'userId');
      expectProblem(await g.check({ userId: 'u' }, T0), 400, 'validation_failed', 'model');
      expectProblem(
        await g.reserve({ model: 'm', requestId: uid('r') }, T0),
        400,
        'validation_failed',
        'userId',
      );
      expectProblem(
        await g.reserve({ userId: 'u', requestId: uid('r') }, T0),
        400,
        'validation_failed',
        'model',
      );
    });

    it('needs a requestId of 1–200 characters on /reserve, /settle and /release', async () => {
      const g = gate();
      expectProblem(await g.reserve(base(), T0), 400, 'validation_failed', 'requestId');
      expectProblem(await g.reserve({ ...base(), requestId: '' }, T0), 400, 'validation_failed', 'requestId');
      expectProblem(
        await g.reserve({ ...base(), requestId: 'r'.repeat(201) }, T0),
        400,
        'validation_failed',
        'requestId',
      );
      expectAllowed(await g.reserve({ ...base(), requestId: 'r'.repeat(200) }, T0));
      expectProblem(await g.settle({ costUsd: 1 }, T0), 400, 'validation_failed', 'requestId');
      expectProblem(await g.release('', T0), 400, 'validation_failed', 'requestId');
    });

    it('bounds ttlSeconds to 1–86400 whole seconds', async () => {
      const g = gate();
      for (const ttlSeconds of [0, 86_401, 1.5, '60', -1]) {
        const a = await g.reserve({ ...base(), requestId: uid('r'), ttlSeconds }, T0);
        expectProblem(a, 400, 'validation_failed', 'ttlSeconds');
      }
    });

    it('refuses ids with control characters or over 256 characters', async () => {
      const g = gate();
      expectProblem(await g.check({ userId: 'u\n1', model: 'm' }, T0), 400, 'validation_failed', 'userId');
      expectProblem(
        await g.check({ userId: 'u', model: 'm'.repeat(257) }, T0),
        400,
        'validation_failed',
        'model',
      );
      expectProblem(
        await g.check({ ...base(), keyId: 'k'.repeat(257) }, T0),
        400,
        'validation_failed',
        'keyId',
      );
      expectProblem(await g.check({ ...base(), sessionId: '' }, T0), 400, 'validation_failed', 'sessionId');
    });

    it('refuses a body that is not a JSON object', async () => {
      const g = gate();
      const a = await g.t.inject({
        method: 'POST',
        url: '/check',
        headers: { ...ADMIN, 'content-type': 'application/json' },
        payload: '{"userId":',
      });
      expect(a.statusCode).toBe(400);
      expect(a.json()).toMatchObject({ code: 'malformed_json' });
    });

    it('ignores unknown fields', async () => {
      const g = gate();
      expectAllowed(await g.check({ ...base(), tokens: 1200, region: 'eu' }, T0));
    });
  });

  describe('auth', () => {
    it('answers 401 without a token or with an unknown one', async () => {
      const g = gate();
      for (const [method, url] of [
        ['POST', '/check'],
        ['POST', '/reserve'],
        ['POST', '/settle'],
        ['POST', '/release'],
        ['GET', '/usage?userId=u'],
      ] as const) {
        for (const headers of [{}, { authorization: 'Bearer nope-nope-nope' }]) {
          const a = await g.t.inject({
            method,
            url,
            headers,
            ...(method === 'POST' ? { payload: base() } : {}),
          });
          expect(a.statusCode).toBe(401);
          expect(a.json()).toMatchObject({ code: 'unauthorized' });
        }
      }
    });

    it('lets an admin token through the decision endpoints', async () => {
      const g = gate();
      const a = await g.t.inject({ method: 'POST', url: '/check', headers: ADMIN, payload: base() });
      expect(a.statusCode).toBe(200);
      const usage = await g.t.inject({ method: 'GET', url: '/usage?userId=u-1', headers: ADMIN });
      expect(usage.statusCode).toBe(200);
    });
  });
});
