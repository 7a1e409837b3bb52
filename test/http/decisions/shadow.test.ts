import { describe, expect, it } from 'vitest';
import { startTestApp } from '../../support/app.js';
import { describeWithServers } from '../../support/services.js';
import {
  bucketOf,
  expectAllowed,
  expectProblem,
  gate,
  keyOf,
  T0,
  uid,
  useEmbeddedGate,
  useServersGate,
  type Gate,
} from './support.js';

/** Shadow roll-out (SPEC §4.8) and alert thresholds on limits (§1). */
function shadowContract(gateOf: () => Gate) {
  async function setup(mode: 'shadow' | 'enforce' = 'shadow') {
    const g = gateOf();
    const user = uid('u');
    const model = uid('m');
    const group = await g.modelGroup([model]);
    const shadowLimit = {
      subjectType: 'user',
      subjectId: user,
      modelGroupId: group.id,
      metric: 'requests',
      window: '1h',
      limit: 1,
      mode,
    };
    await g.limit(shadowLimit);
    await g.limit({
      subjectType: 'user',
      subjectId: user,
      modelGroupId: null,
      metric: 'requests',
      window: 'daily',
      limit: 10,
    });
    return {
      g,
      user,
      model,
      shadowLimit,
      shadowKey: keyOf('user', user, group.id, 'requests', '1h'),
      enforcedKey: keyOf('user', user, null, 'requests', 'daily'),
    };
  }

  it('admits what a shadow limit would refuse, names it in shadowRefused, and still charges it', async () => {
    const { g, user, model, shadowKey, enforcedKey } = await setup();
    const first = await g.reserve({ requestId: uid('r'), userId: user, model }, T0);
    expectAllowed(first);
    expect(first.body.shadowRefused).toEqual([]);
    expect(bucketOf(first.body, shadowKey)).toMatchObject({ shadow: true, exceeded: false, used: 1 });
    const second = await g.reserve({ requestId: uid('r'), userId: user, model }, T0 + 1);
    expectAllowed(second);
    expect(second.body.shadowRefused).toEqual([shadowKey]);
    expect(bucketOf(second.body, shadowKey)).toMatchObject({ shadow: true, exceeded: true, used: 2 });
    // Headers describe enforced buckets only.
    expect(String(second.headers['ratelimit-policy'])).toContain(enforcedKey);
    const check = await g.check({ userId: user, model }, T0 + 2);
    expect(check.status).toBe(200);
    expect(check.body.shadowRefused).toEqual([shadowKey]);
    expect(check.headers['retry-after']).toBeUndefined();
  });

  it('refuses once the limit is switched to enforce', async () => {
    const { g, user, model, shadowLimit, shadowKey } = await setup();
    expectAllowed(await g.reserve({ requestId: uid('r'), userId: user, model }, T0));
    await g.limit({ ...shadowLimit, mode: 'enforce' });
    const refused = await g.reserve({ requestId: uid('r'), userId: user, model }, T0 + 1);
    expect(refused.status).toBe(429);
    expect(bucketOf(refused.body, shadowKey)).toMatchObject({ shadow: false, exceeded: true });
    expect(refused.body.shadowRefused).toEqual([]);
    expect(refused.body.reason).toContain('requests 1h');
  });

  it('stores mode and alertAt (sorted), and names bad thresholds', async () => {
    const { g, user } = await setup();
    const body = {
      subjectType: 'user',
      subjectId: user,
      modelGroupId: null,
      metric: 'cost',
      window: '5h',
      limit: 10,
    };
    const stored = await g.limit({ ...body, mode: 'shadow', alertAt: [1, 0.5, 0.8] });
    expect(stored).toMatchObject({ mode: 'shadow', alertAt: [0.5, 0.8, 1] });
    expect(await g.limit(body)).toMatchObject({ mode: 'enforce', alertAt: [] });
    for (const alertAt of [[0], [1.5], [0.5, 0.5], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]]) {
      expectProblem(
        await g.admin('PUT', '/admin/limits', { ...body, alertAt }),
        400,
        'validation_failed',
        'alertAt',
      );
    }
    expectProblem(
      await g.admin('PUT', '/admin/limits', { ...body, mode: 'soft' }),
      400,
      'validation_failed',
      'mode',
    );
  });
}

describeWithServers('shadow mode on Redis', () => {
  shadowContract(useServersGate());
});
describe('shadow mode embedded', () => {
  shadowContract(useEmbeddedGate());

  it('SHADOW_MODE=true puts every bucket in shadow, and counts what they would refuse', async () => {
    const g = gate(await startTestApp({ env: { SHADOW_MODE: 'true' } }));
    try {
      const user = uid('u');
      const model = uid('m');
      const group = await g.modelGroup([model]);
      await g.limit({
        subjectType: 'user',
        subjectId: user,
        modelGroupId: group.id,
        metric: 'requests',
        window: '1h',
        limit: 0,
      });
      const admitted = await g.reserve({ requestId: uid('r'), userId: user, model }, T0);
      expectAllowed(admitted);
      expect(admitted.body.shadowRefused).toEqual([keyOf('user', user, group.id, 'requests', '1h')]);
      const metrics = await g.t.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toMatch(/quotagate_shadow_refusals_total\{endpoint="\/reserve"\} 1/);
    } finally {
      await g.t.close();
    }
  });
});
