import { describe, expect, it, vi } from 'vitest';
import type { BucketState, GuardReservation } from '../../src/client/index.js';
import { describeWithServers } from '../support/services.js';
import { uid, useQuotagate } from './support.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const byMetric = (buckets: BucketState[]) => Object.fromEntries(buckets.map((b) => [b.metric, b]));

/** guard(demand, call): reserve → call → settle, or release when the call throws (SPEC §7.2). */
describeWithServers('QuotaClient.guard', () => {
  const quotagate = useQuotagate();

  async function subject() {
    const q = quotagate();
    const userId = uid('u');
    const model = uid('m');
    await q.userLimits(
      userId,
      [model],
      [
        { metric: 'cost', window: 'daily', limit: 1 },
        { metric: 'requests', window: '1m', limit: 2 },
        { metric: 'concurrency', limit: 1 },
        { metric: 'input_tokens', window: 'daily', limit: 10_000 },
        { metric: 'output_tokens', window: 'daily', limit: 10_000 },
        { metric: 'tokens', window: 'daily', limit: 20_000 },
      ],
    );
    const client = q.client();
    const usage = async () => byMetric((await client.usage({ userId, model })).buckets);
    return { client, userId, model, usage };
  }

  describe('admitted', () => {
    it('runs the call holding the estimate, settles the usage it reports and returns its result', async () => {
      const { client, userId, model, usage } = await subject();
      let during: Record<string, BucketState> = {};
      let seen: GuardReservation | undefined;
      const outcome = await client.guard(
        { userId, model, estimatedCostUsd: 0.2, estimatedInputTokens: 50, estimatedOutputTokens: 100 },
        async (reservation) => {
          seen = reservation;
          during = await usage();
          const extended = await reservation.extend(120);
          expect(extended?.reservation.state).toBe('held');
          return { result: 'answer', usage: { costUsd: 0.15, inputTokens: 40, outputTokens: 90 } };
        },
      );
      expect(outcome).toMatchObject({ allowed: true, result: 'answer', failOpen: false, settleError: null });
      if (!outcome.allowed) throw new Error('refused');
      expect(outcome.requestId).toMatch(UUID);
      expect(seen).toMatchObject({ requestId: outcome.requestId, failOpen: false });
      expect(outcome.decision?.reservation?.state).toBe('held');
      expect(outcome.settlement).toMatchObject({
        requestId: outcome.requestId,
        status: 'settled',
        costUsd: 0.15,
      });
      expect(during.cost).toMatchObject({ held: 0.2 });
      expect(during.concurrency).toMatchObject({ used: 1 });
      expect(during.tokens).toMatchObject({ held: 150 });

      const after = await usage();
      expect(after.cost).toMatchObject({ used: 0.15, held: 0 });
      expect(after.input_tokens).toMatchObject({ used: 40, held: 0 });
      expect(after.output_tokens).toMatchObject({ used: 90, held: 0 });
      expect(after.tokens).toMatchObject({ used: 130, held: 0 });
      expect(after.concurrency).toMatchObject({ used: 0 });
      expect(after.requests).toMatchObject({ used: 1 });
    });

    it('uses the requestId it is given', async () => {
      const { client, userId, model } = await subject();
      const requestId = uid('r');
      const outcome = await client.guard({ requestId, userId, model }, async (reservation) => ({
        result: reservation.requestId,
        usage: { costUsd: '0.01' },
      }));
      expect(outcome).toMatchObject({
        allowed: true,
        requestId,
        result: requestId,
        settlement: { requestId },
      });
    });
  });

  describe('refused', () => {
    it('returns the decision without running the call', async () => {
      const { client, userId, model } = await subject();
      const call = vi.fn(async () => ({ result: 'x', usage: { costUsd: 0 } }));
      for (let i = 0; i < 2; i++) expect((await client.guard({ userId, model }, call)).allowed).toBe(true);
      const refused = await client.guard({ userId, model }, call);
      expect(call).toHaveBeenCalledTimes(2);
      expect(refused).toMatchObject({ allowed: false, decision: { allowed: false, status: 'rate_limited' } });
      if (refused.allowed) throw new Error('admitted');
      expect(refused.decision.reason).toContain('requests 1m');
      expect(refused.decision.retryAfterMs).toBeGreaterThan(0);
    });
  });

  describe('a throwing call', () => {
    it('is released (hold and slot back to 0) and its error rethrown as it was', async () => {
      const { client, userId, model, usage } = await subject();
      const boom = new Error('upstream exploded');
      let requestId = '';
      const thrown = await client
        .guard({ userId, model, estimatedCostUsd: 0.5, estimatedOutputTokens: 300 }, async (reservation) => {
          requestId = reservation.requestId;
          expect((await usage()).cost).toMatchObject({ held: 0.5 });
          throw boom;
        })
        .catch((e) => e);
      expect(thrown).toBe(boom);
      const after = await usage();
      expect(after.cost).toMatchObject({ used: 0, held: 0 });
      expect(after.tokens).toMatchObject({ used: 0, held: 0 });
      expect(after.concurrency).toMatchObject({ used: 0 });
      expect(after.requests).toMatchObject({ used: 1 });
      await expect(client.release(requestId)).resolves.toEqual({ requestId, state: 'released' });
    });
  });
});
