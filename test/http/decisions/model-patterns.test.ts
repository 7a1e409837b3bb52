import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp } from '../../support/app.js';
import { describeWithServers, services, useRedisPrefix, useTestDatabase } from '../../support/services.js';
import {
  T0,
  bucketOf,
  expectAllowed,
  gate as gateOf,
  keyOf,
  uid,
  useServersGate,
  type Gate,
} from './support.js';

/** A user with `requests: cap` per day on a fresh group holding the pattern `<family>-*`. */
async function familyCap(g: Gate, cap: number) {
  const user = uid('u');
  const family = uid('fam');
  const group = await g.modelGroup([`${family}-*`]);
  await g.limit({
    subjectType: 'user',
    subjectId: user,
    modelGroupId: group.id,
    metric: 'requests',
    window: 'daily',
    limit: cap,
  });
  return { user, family, group, key: keyOf('user', user, group.id, 'requests', 'daily') };
}

const reserve = (g: Gate, userId: string, model: string) =>
  g.reserve({ userId, model, requestId: uid('r') }, T0);

describeWithServers('model patterns in decisions (SPEC §9.4)', () => {
  const gate = useServersGate();

  it('holds a model named nowhere inside its family’s cap, and refuses it once the cap is reached', async () => {
    const g = gate();
    const { user, family, group, key } = await familyCap(g, 2);
    const model = `${family}-2026-01`;
    for (let i = 0; i < 2; i++) {
      const a = await reserve(g, user, model);
      expectAllowed(a);
      expect(bucketOf(a.body, key)).toMatchObject({ used: i + 1, limit: 2 });
    }
    const refused = await reserve(g, user, model);
    expect(refused.status, JSON.stringify(refused.body)).toBe(429);
    expect(refused.body).toMatchObject({ allowed: false, status: 'rate_limited' });
    expect(refused.body.reason).toBe(
      `user ${user}: requests daily limit reached on group ${group.id} (${group.name})`,
    );
    // Another new version of the family shares the counter; a model outside it does not.
    expect((await reserve(g, user, `${family}-2027-02`)).status).toBe(429);
    const outside = await reserve(g, user, `x${family}-2026-01`);
    expectAllowed(outside);
    expect(outside.body.buckets).toEqual([]);
  });

  it('lets a model’s exact id in another group escape its family’s cap', async () => {
    const g = gate();
    const { user, family, key } = await familyCap(g, 0);
    expect((await reserve(g, user, `${family}-1`)).status).toBe(429);
    await g.modelGroup([`${family}-pinned`]);
    const a = await reserve(g, user, `${family}-pinned`);
    expectAllowed(a);
    expect(a.body.buckets.map((b: { key: string }) => b.key)).not.toContain(key);
  });

  it('takes the longest matching pattern’s group', async () => {
    const g = gate();
    const { user, family } = await familyCap(g, 0);
    const narrow = await g.modelGroup([`${family}-opus-*`]);
    await g.limit({
      subjectType: 'user',
      subjectId: user,
      modelGroupId: narrow.id,
      metric: 'requests',
      window: 'daily',
      limit: 5,
    });
    const a = await reserve(g, user, `${family}-opus-5`);
    expectAllowed(a);
    expect(bucketOf(a.body, keyOf('user', user, narrow.id, 'requests', 'daily'))).toMatchObject({ used: 1 });
    expect((await reserve(g, user, `${family}-sonnet-5`)).status).toBe(429);
  });
});

describeWithServers('a pattern reaches decisions like any config change', () => {
  const databaseUrl = useTestDatabase();
  const redisPrefix = useRedisPrefix();
  let writer: Gate;
  let reader: Gate;

  beforeAll(async () => {
    const common = { databaseUrl: databaseUrl(), redisUrl: services.redisUrl ?? undefined, redisPrefix };
    writer = gateOf(await startTestApp(common), redisPrefix);
    reader = gateOf(
      await startTestApp({ ...common, migrate: false, env: { CONFIG_POLL_SECONDS: '60' } }),
      redisPrefix,
    );
  });
  afterAll(async () => {
    await Promise.all([writer?.t.close(), reader?.t.close()]);
  });

  async function until(holds: () => Promise<boolean>, limitMs: number) {
    const started = Date.now();
    while (!(await holds())) {
      if (Date.now() - started > limitMs) throw new Error(`not within ${limitMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it('refuses at once on the answering instance and within a second on another; removing it frees the model', async () => {
    const user = uid('u');
    const family = uid('late');
    const model = `${family}-2026-01`;
    const group = await writer.modelGroup([]);
    await writer.limit({
      subjectType: 'user',
      subjectId: user,
      modelGroupId: group.id,
      metric: 'requests',
      limit: 0,
      window: 'daily',
    });
    expectAllowed(await writer.check({ userId: user, model }, T0));
    expectAllowed(await reader.check({ userId: user, model }, T0));

    const added = await writer.admin('POST', `/admin/model-groups/${group.id}/models`, {
      models: [`${family}-*`],
    });
    expect(added.status).toBe(200);
    expect((await writer.check({ userId: user, model }, T0)).status).toBe(429);
    await until(async () => (await reader.check({ userId: user, model }, T0)).status === 429, 1_000);

    const url = `/admin/model-groups/${group.id}/models?model=${encodeURIComponent(`${family}-*`)}`;
    expect((await writer.admin('DELETE', url)).status).toBe(200);
    expectAllowed(await writer.check({ userId: user, model }, T0));
    await until(async () => (await reader.check({ userId: user, model }, T0)).status === 200, 1_000);
  });
});
