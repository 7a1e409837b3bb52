import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { webhookEvents } from '../../../src/db/schema.js';
import { formatAlert } from '../../../src/store/alert-entries.js';
import { startTestApp } from '../../support/app.js';
import { describeWithServers, services, useRedisPrefix, useTestDatabase } from '../../support/services.js';
import { DAY, HOUR, gate, keyOf, T0, uid, useEmbeddedGate, useServersGate, type Gate } from './support.js';
import { until } from '../../support/until.js';

/**
 * SPEC §5.1 threshold crossings: detected in the store atomically with the charge, written
 * to the outbox (webhook_events), one event per crossing however many instances race.
 */
async function events(g: Gate, bucket: string) {
  const rows = await g.t.database.db.select().from(webhookEvents);
  return rows
    .map((r) => r.payload as { type: string; data: { bucket: string; threshold: number; used: number } })
    .filter((p) => p.type === 'quota.threshold_crossed' && p.data.bucket === bucket)
    .map((p) => p.data);
}

function alertsContract(gateOf: () => Gate) {
  async function setup(window: string, alertAt: number[], limit = 10) {
    const g = gateOf();
    const user = uid('u');
    const model = uid('m');
    const group = await g.modelGroup([model]);
    const created = await g.limit({
      subjectType: 'user',
      subjectId: user,
      modelGroupId: group.id,
      metric: 'cost',
      window,
      limit,
      alertAt,
    });
    return {
      g,
      user,
      model,
      key: keyOf('user', user, group.id, 'cost', window),
      limitId: created.id as number,
    };
  }
  const settle = (g: Gate, user: string, model: string, costUsd: number, now: number) =>
    g.settle({ requestId: uid('r'), userId: user, model, costUsd }, now);

  it('sends one event per threshold crossed, at the boundary, with the bucket evidence', async () => {
    const { g, user, model, key, limitId } = await setup('daily', [0.5, 1]);
    await settle(g, user, model, 4.99, T0);
    expect(await events(g, key)).toEqual([]);
    await settle(g, user, model, 0.01, T0 + 1);
    expect(await events(g, key)).toEqual([
      expect.objectContaining({
        threshold: 0.5,
        used: 5,
        effectiveLimit: 10,
        limitId,
        shadow: false,
        metric: 'cost',
        window: 'daily',
      }),
    ]);
    await settle(g, user, model, 4.99, T0 + 2);
    await settle(g, user, model, 0.01, T0 + 3);
    expect((await events(g, key)).map((e) => e.threshold)).toEqual([0.5, 1]);
    const [last] = (await events(g, key)).filter((e) => e.threshold === 1);
    expect(last).toMatchObject({
      used: 10,
      resetAt: new Date(Date.parse('2027-03-02T00:00:00Z')).toISOString(),
    });
  });

  it('re-arms in a new calendar window and when a rolling window lets usage go', async () => {
    const daily = await setup('daily', [0.5]);
    await settle(daily.g, daily.user, daily.model, 6, T0);
    await settle(daily.g, daily.user, daily.model, 6, T0 + DAY);
    expect((await events(daily.g, daily.key)).length).toBe(2);

    const rolling = await setup('1h', [0.5]);
    await settle(rolling.g, rolling.user, rolling.model, 6, T0);
    await settle(rolling.g, rolling.user, rolling.model, 1, T0 + 10 * 60_000);
    expect((await events(rolling.g, rolling.key)).length).toBe(1);
    // Past the hour (and its last slice) the 6 left: 1 + 5 crosses 0.5 again.
    await settle(rolling.g, rolling.user, rolling.model, 5, T0 + HOUR + 2 * 60_000);
    expect((await events(rolling.g, rolling.key)).map((e) => e.used)).toEqual([6, 6]);
  });
}

describe('threshold alerts embedded', () => alertsContract(useEmbeddedGate()));
describeWithServers('threshold alerts on Redis', () => alertsContract(useServersGate()));

describeWithServers('threshold alerts on Redis, two instances', () => {
  const databaseUrl = useTestDatabase();
  const prefix = useRedisPrefix();

  it('a crossing raced by two instances is one event; a crossing left by a dead instance is sent', async () => {
    const [a, b] = [
      gate(
        await startTestApp({
          databaseUrl: databaseUrl(),
          redisUrl: services.redisUrl ?? '',
          redisPrefix: prefix,
        }),
        prefix,
      ),
      gate(
        await startTestApp({
          databaseUrl: databaseUrl(),
          redisUrl: services.redisUrl ?? '',
          redisPrefix: prefix,
          migrate: false,
        }),
        prefix,
      ),
    ];
    try {
      const user = uid('u');
      const model = uid('m');
      const group = await a.modelGroup([model]);
      await a.limit({
        subjectType: 'user',
        subjectId: user,
        modelGroupId: group.id,
        metric: 'cost',
        window: 'total',
        limit: 10,
        alertAt: [0.5],
      });
      await until(async () => (await b.usage({ userId: user, model }, T0)).body.buckets?.length === 1);
      await a.settle({ requestId: uid('r'), userId: user, model, costUsd: 4 }, T0);
      const racing = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 ? a : b).settle({ requestId: uid('r'), userId: user, model, costUsd: 1 }, T0 + 1),
        ),
      );
      expect(racing.every((r) => r.status === 200)).toBe(true);
      const key = keyOf('user', user, group.id, 'cost', 'total');
      expect(await events(a, key)).toEqual([expect.objectContaining({ threshold: 0.5, used: 5 })]);

      // What a crash between the Redis apply and the outbox write leaves: the alert in the
      // store and the batch's apply intent. The sweep that finds the intent sends it.
      const context = Buffer.from(
        JSON.stringify({
          bucket: 'user:ghost|*|cost|total',
          axis: 'user',
          ownerId: 'ghost',
          modelGroupId: null,
          metric: 'cost',
          window: 'total',
          limitId: 1,
          shadow: false,
          effectiveLimit: 10_000_000,
          fractions: [0.8],
        }),
      ).toString('base64url');
      const raw = formatAlert({
        context,
        threshold: 0,
        used: 8_000_000,
        resetAt: null,
        requestId: 'r-ghost',
        at: T0,
      });
      await a.t.redis?.rpush(`${prefix}:{${Buffer.from('ghost').toString('base64url')}}:alerts`, raw);
      await a.t.database.db.execute(
        sql`insert into apply_intents (subjects, due_at) values ('["ghost"]'::jsonb, now())`,
      );
      await until(async () => (await events(a, 'user:ghost|*|cost|total')).length === 1);
      expect((await events(a, 'user:ghost|*|cost|total'))[0]).toMatchObject({ threshold: 0.8, used: 8 });
      expect(await a.t.redis?.llen(`${prefix}:{${Buffer.from('ghost').toString('base64url')}}:alerts`)).toBe(
        0,
      );
    } finally {
      await a.t.close();
      await b.t.close();
    }
  });
});
