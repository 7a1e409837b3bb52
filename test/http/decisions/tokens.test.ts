import { describe, expect, it } from 'vitest';
import { describeWithServers } from '../../support/services.js';
import {
  bucketOf,
  DAY,
  expectAllowed,
  HOUR,
  keyOf,
  ledgerRow,
  T0,
  uid,
  useEmbeddedGate,
  useServersGate,
  type Gate,
} from './support.js';

/** Token metrics (SPEC §4.7): held at /reserve, charged at /settle, rebuilt from the ledger. */
function tokensContract(gate: () => Gate, redis: boolean) {
  async function setup() {
    const g = gate();
    const user = uid('u');
    const model = uid('m');
    const group = await g.modelGroup([model]);
    const limit = (body: Record<string, unknown>) =>
      g.limit({ subjectType: 'user', subjectId: user, modelGroupId: group.id, ...body });
    await limit({ metric: 'input_tokens', window: '5h', limit: 1_000 });
    await limit({ metric: 'output_tokens', window: 'daily', limit: 2_000 });
    await limit({ metric: 'tokens', window: 'total', limit: 2_500 });
    // A cost limit on the group: the cost split must leave the all-models token bucket alone.
    await limit({ metric: 'cost', window: 'daily', limit: 100 });
    await g.limit({
      subjectType: 'user',
      subjectId: user,
      modelGroupId: null,
      metric: 'tokens',
      window: '1h',
      limit: 10_000,
    });
    const keys = {
      input: keyOf('user', user, group.id, 'input_tokens', '5h'),
      output: keyOf('user', user, group.id, 'output_tokens', 'daily'),
      total: keyOf('user', user, group.id, 'tokens', 'total'),
      global: keyOf('user', user, null, 'tokens', '1h'),
    };
    return { g, user, model, keys };
  }

  it('holds the estimates, refuses past a cap at the boundary, and charges the actual counts', async () => {
    const { g, user, model, keys } = await setup();
    const requestId = uid('r');
    const held = await g.reserve(
      { requestId, userId: user, model, estimatedInputTokens: 600, estimatedOutputTokens: 500 },
      T0,
    );
    expectAllowed(held);
    expect(bucketOf(held.body, keys.input).held).toBe(600);
    expect(bucketOf(held.body, keys.total).held).toBe(1_100);
    expect(bucketOf(held.body, keys.global).held).toBe(1_100);
    expectAllowed(await g.check({ userId: user, model, estimatedInputTokens: 400 }, T0));
    const refused = await g.check({ userId: user, model, estimatedInputTokens: 401 }, T0);
    expect(refused.status).toBe(429);
    expect(refused.body.reason).toContain('input_tokens 5h');
    expect(String(refused.headers['ratelimit-policy'])).toContain('qu="tokens"');

    const settled = await g.settle(
      { requestId, costUsd: 0.01, inputTokens: 900, outputTokens: 1_400 },
      T0 + 1,
    );
    expect(settled.status).toBe(200);
    const row = await ledgerRow(g, requestId);
    expect(row).toMatchObject({ inputTokens: 900, outputTokens: 1_400 });
    expect(row?.buckets).toEqual(expect.arrayContaining([keys.input, keys.output, keys.total, keys.global]));
    const usage = (await g.usage({ userId: user, model }, T0 + 2)).body;
    expect(bucketOf(usage, keys.input)).toMatchObject({ used: 900, held: 0, limit: 1_000 });
    expect(bucketOf(usage, keys.output)).toMatchObject({ used: 1_400, held: 0 });
    expect(bucketOf(usage, keys.total)).toMatchObject({ used: 2_300, held: 0 });
    expect(bucketOf(usage, keys.global)).toMatchObject({ used: 2_300, held: 0 });
    expect((await g.check({ userId: user, model, estimatedOutputTokens: 201 }, T0 + 3)).status).toBe(429);
    expectAllowed(await g.check({ userId: user, model, estimatedOutputTokens: 200 }, T0 + 3));
  });

  it('charges a direct settle, and a repeated settle with other token counts is a conflict', async () => {
    const { g, user, model, keys } = await setup();
    const requestId = uid('r');
    const direct = { requestId, userId: user, model, costUsd: 0, inputTokens: 10, outputTokens: 20 };
    expect((await g.settle(direct, T0)).status).toBe(200);
    expect((await g.settle(direct, T0 + 1)).body).toMatchObject({ duplicate: true });
    const other = await g.settle({ ...direct, outputTokens: 21 }, T0 + 2);
    expect(other.status).toBe(409);
    expect(other.body).toMatchObject({ code: 'idempotency_conflict', outputTokens: 20 });
    expect(bucketOf((await g.usage({ userId: user, model }, T0 + 3)).body, keys.total).used).toBe(30);
  });

  if (redis) {
    it('rebuilds token buckets from the ledger after Redis lost its data', async () => {
      const { g, user, model, keys } = await setup();
      const requestId = uid('r');
      expectAllowed(await g.reserve({ requestId, userId: user, model, estimatedInputTokens: 100 }, T0));
      await g.settle({ requestId, costUsd: 0.5, inputTokens: 950, outputTokens: 50 }, T0 + HOUR);
      const before = (await g.usage({ userId: user, model }, T0 + HOUR + 1)).body;
      await g.loseRedisData();
      const after = (await g.usage({ userId: user, model }, T0 + HOUR + 1)).body;
      for (const key of Object.values(keys))
        expect(bucketOf(after, key).used).toBe(bucketOf(before, key).used);
      expect(bucketOf(after, keys.input).used).toBe(950);
      expect((await g.check({ userId: user, model, estimatedInputTokens: 51 }, T0 + HOUR + 2)).status).toBe(
        429,
      );
      // The 5h rolling window lets them go again (after one more slice of 5 min at most);
      // the total bucket never does.
      const later = T0 + HOUR + 5 * HOUR + 5 * 60_000;
      expect(bucketOf((await g.usage({ userId: user, model }, later)).body, keys.input).used).toBe(0);
      expect(bucketOf((await g.usage({ userId: user, model }, later + DAY)).body, keys.total).used).toBe(
        1_000,
      );
    });
  }
}

describeWithServers('token metrics on Redis', () => tokensContract(useServersGate(), true));
describe('token metrics embedded', () => tokensContract(useEmbeddedGate(), false));
