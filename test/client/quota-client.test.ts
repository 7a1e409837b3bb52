import { describe, expect, it } from 'vitest';
import { QuotaRequestError, type BucketState } from '../../src/client/index.js';
import { describeWithServers } from '../support/services.js';
import { uid, useQuotagate } from './support.js';

const bucket = (buckets: BucketState[], metric: string) => {
  const found = buckets.find((b) => b.metric === metric);
  expect(found, `a ${metric} bucket in ${buckets.map((b) => b.key).join(', ')}`).toBeDefined();
  return found as BucketState;
};

/** Every method of QuotaClient against a listening quotagate (SPEC §4.2, §7.2). */
describeWithServers('QuotaClient', () => {
  const quotagate = useQuotagate();

  async function subject(limits: object[] = [{ metric: 'cost', window: 'daily', limit: 1 }]) {
    const q = quotagate();
    const userId = uid('u');
    const model = uid('m');
    await q.userLimits(userId, [model], limits);
    return { q, client: q.client(), userId, model };
  }

  describe('decisions', () => {
    it('check is a dry run, and a refusal (429) is an answer with allowed: false', async () => {
      const { client, userId, model } = await subject();
      const admitted = await client.check({ userId, model, estimatedCostUsd: 0.5 });
      expect(admitted).toMatchObject({ allowed: true, status: 'ok', reservation: null, failOpen: false });
      const refused = await client.check({ userId, model, estimatedCostUsd: 2 });
      expect(refused).toMatchObject({ allowed: false, status: 'rate_limited', reservation: null });
      expect(refused.reason).toContain('cost daily');
      expect(bucket(refused.buckets, 'cost').exceeded).toBe(true);
      const usage = await client.usage({ userId, model });
      expect(bucket(usage.buckets, 'cost')).toMatchObject({ used: 0, held: 0 });
    });

    it('reserve holds the estimate, and a retry with the same requestId returns the same reservation', async () => {
      const { client, userId, model } = await subject();
      const body = { requestId: uid('r'), userId, model, estimatedCostUsd: 0.4, ttlSeconds: 60 };
      const first = await client.reserve(body);
      expect(first).toMatchObject({
        allowed: true,
        requestId: body.requestId,
        reservation: { state: 'held' },
      });
      const again = await client.reserve(body);
      expect(again.reservation).toEqual(first.reservation);
      expect(bucket((await client.usage({ userId, model })).buckets, 'cost').held).toBe(0.4);
      const refused = await client.reserve({ ...body, requestId: uid('r'), estimatedCostUsd: 0.7 });
      expect(refused).toMatchObject({ allowed: false, reservation: null });
    });

    it('settle charges the actual cost and tokens once; a repeat answers duplicate: true', async () => {
      const { client, userId, model } = await subject([
        { metric: 'cost', window: 'daily', limit: 1 },
        { metric: 'input_tokens', window: 'daily', limit: 1_000 },
        { metric: 'output_tokens', window: 'daily', limit: 1_000 },
      ]);
      const requestId = uid('r');
      await client.reserve({ requestId, userId, model, estimatedCostUsd: 0.4, estimatedInputTokens: 100 });
      const body = { requestId, costUsd: 0.3, inputTokens: 80, outputTokens: 120, userId, model };
      expect(await client.settle(body)).toMatchObject({
        requestId,
        status: 'settled',
        duplicate: false,
        costUsd: 0.3,
      });
      expect(await client.settle(body)).toMatchObject({ status: 'settled', duplicate: true });
      const { buckets } = await client.usage({ userId, model });
      expect(bucket(buckets, 'cost')).toMatchObject({ used: 0.3, held: 0 });
      expect(bucket(buckets, 'input_tokens')).toMatchObject({ used: 80, held: 0 });
      expect(bucket(buckets, 'output_tokens')).toMatchObject({ used: 120, held: 0 });
    });

    it('release frees the hold, and is idempotent', async () => {
      const { client, userId, model } = await subject();
      const requestId = uid('r');
      await client.reserve({ requestId, userId, model, estimatedCostUsd: 0.4 });
      expect(await client.release(requestId)).toEqual({ requestId, state: 'released' });
      expect(await client.release(requestId)).toEqual({ requestId, state: 'released' });
      expect(bucket((await client.usage({ userId, model })).buckets, 'cost').held).toBe(0);
    });

    it('extend moves the expiry to now + ttlSeconds', async () => {
      const { client, userId, model } = await subject();
      const requestId = uid('r');
      const held = await client.reserve({ requestId, userId, model, ttlSeconds: 60 });
      const extended = await client.extend(requestId, 3_600);
      expect(extended.reservation.state).toBe('held');
      const gained =
        Date.parse(extended.reservation.expiresAt) - Date.parse(held.reservation?.expiresAt ?? '');
      expect(gained).toBeGreaterThan(3_400_000);
    });

    it('usage takes groups as a list and names the group limit as the source', async () => {
      const q = quotagate();
      const client = q.client();
      const userId = uid('u');
      const team = await q.admin('POST', '/admin/user-groups', { name: uid('team') });
      await q.admin('PUT', '/admin/limits', {
        subjectType: 'user_group',
        subjectId: String(team.id),
        modelGroupId: null,
        metric: 'requests',
        window: '1m',
        limit: 10,
      });
      expect((await client.usage({ userId })).buckets).toEqual([]);
      const usage = await client.usage({ userId, groups: [team.name, 'no-such-group'] });
      expect(usage.userId).toBe(userId);
      expect(bucket(usage.buckets, 'requests')).toMatchObject({
        effectiveLimit: 10,
        source: { subjectType: 'user_group', subjectId: String(team.id) },
      });
    });
  });

  describe('errors', () => {
    it('a validation failure is a QuotaRequestError with status, code and the fields', async () => {
      const { client, userId, model } = await subject();
      const error = await client
        .reserve({ requestId: uid('r'), userId, model, ttlSeconds: 0 })
        .catch((e) => e);
      expect(error).toBeInstanceOf(QuotaRequestError);
      expect(error).toMatchObject({ status: 400, code: 'validation_failed', operation: 'reserve' });
      expect(error.errors.map((e: { field: string }) => e.field)).toContain('ttlSeconds');
    });

    it('a wrong token is a 401 thrown even with failMode open: it is a mistake, not an outage', async () => {
      const { q, userId, model } = await subject();
      const client = q.client({ token: 'not-a-token-at-all', failMode: 'open' });
      const error = await client.check({ userId, model }).catch((e) => e);
      expect(error).toBeInstanceOf(QuotaRequestError);
      expect(error).toMatchObject({ status: 401, code: 'unauthorized' });
    });

    it('extend: an unknown request is 404 not_found, a settled one 409 reservation_closed', async () => {
      const { client, userId, model } = await subject();
      await expect(client.extend(uid('r'), 60)).rejects.toMatchObject({ status: 404, code: 'not_found' });
      const requestId = uid('r');
      await client.reserve({ requestId, userId, model });
      await client.settle({ requestId, costUsd: 0.01 });
      const closed = await client.extend(requestId, 60).catch((e) => e);
      expect(closed).toBeInstanceOf(QuotaRequestError);
      expect(closed).toMatchObject({
        status: 409,
        code: 'reservation_closed',
        problem: { state: 'settled' },
      });
    });
  });
});
