import type http from 'node:http';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { QuotaRequestError, QuotaUnavailableError, type QuotaClientOptions } from '../../src/client/index.js';
import { describeWithServers } from '../support/services.js';
import { listen, readBody, uid, useQuotagate } from './support.js';

const unavailable = {
  type: 'urn:quotagate:problem:store_unavailable',
  title: 'Unavailable',
  status: 503,
  detail: 'store down',
  code: 'store_unavailable',
};

/**
 * A real HTTP hop in front of quotagate that answers 503 for the next `fail` requests (before
 * they reach quotagate, or, with `afterForward`, after quotagate applied them: a lost reply),
 * and records every body it saw. quotagate's own logic stays untouched.
 */
async function flakyProxy(target: () => string) {
  const seen: { path: string; body: string }[] = [];
  const plan = { fail: 0, retryAfter: null as string | null, afterForward: false };
  const answer503 = (res: http.ServerResponse) => {
    res.writeHead(503, {
      'content-type': 'application/problem+json',
      ...(plan.retryAfter === null ? {} : { 'retry-after': plan.retryAfter }),
    });
    res.end(JSON.stringify(unavailable));
  };
  const proxy = await listen(async (req, res) => {
    const body = await readBody(req);
    seen.push({ path: req.url ?? '', body });
    const failing = plan.fail > 0;
    if (failing) plan.fail--;
    if (failing && !plan.afterForward) return answer503(res);
    const upstream = await fetch(`${target()}${req.url}`, {
      method: req.method,
      headers: { authorization: req.headers.authorization ?? '', 'content-type': 'application/json' },
      ...(req.method === 'GET' ? {} : { body }),
    });
    const text = await upstream.text();
    if (failing) return answer503(res);
    res.writeHead(upstream.status, {
      'content-type': upstream.headers.get('content-type') ?? 'application/json',
    });
    res.end(text);
  });
  return { ...proxy, seen, plan };
}

describeWithServers('retries through a proxy answering 503', () => {
  const quotagate = useQuotagate();
  let proxy: Awaited<ReturnType<typeof flakyProxy>>;
  beforeAll(async () => {
    proxy = await flakyProxy(() => quotagate().url);
  });
  afterAll(() => proxy?.close());

  async function subject(options: Partial<QuotaClientOptions> = {}) {
    const q = quotagate();
    const userId = uid('u');
    const model = uid('m');
    await q.userLimits(
      userId,
      [model],
      [
        { metric: 'cost', window: 'daily', limit: 1 },
        { metric: 'requests', window: '1m', limit: 10 },
      ],
    );
    proxy.seen.length = 0;
    Object.assign(proxy.plan, { fail: 0, retryAfter: null, afterForward: false });
    return { q, userId, model, client: q.client({ baseUrl: proxy.url, ...options }) };
  }

  it('retries a 503 twice with the same requestId, then holds once', async () => {
    const { q, userId, model, client } = await subject({ retries: 2 });
    proxy.plan.fail = 2;
    const outcome = await client.guard({ userId, model, estimatedCostUsd: 0.3 }, async () => {
      const buckets = (await q.client().usage({ userId, model })).buckets;
      expect(buckets.find((b) => b.metric === 'requests')?.used).toBe(1);
      expect(buckets.find((b) => b.metric === 'cost')?.held).toBe(0.3);
      return { result: 'ok', usage: { costUsd: 0.25 } };
    });
    expect(outcome).toMatchObject({ allowed: true, failOpen: false, settlement: { duplicate: false } });
    const reserves = proxy.seen.filter((s) => s.path === '/reserve');
    expect(reserves).toHaveLength(3);
    const ids = reserves.map((s) => JSON.parse(s.body).requestId);
    expect(new Set(ids)).toEqual(new Set([outcome.requestId]));
    expect(reserves.every((s) => s.body === reserves[0]?.body)).toBe(true);
  });

  it('a settle whose reply was lost after quotagate applied it: the retry charges nothing twice', async () => {
    const { q, userId, model, client } = await subject({ retries: 1 });
    const requestId = uid('r');
    await client.reserve({ requestId, userId, model, estimatedCostUsd: 0.3 });
    Object.assign(proxy.plan, { fail: 1, afterForward: true });
    const settled = await client.settle({ requestId, costUsd: 0.2, userId, model });
    expect(settled).toMatchObject({ requestId, status: 'settled', duplicate: true, costUsd: 0.2 });
    expect(proxy.seen.filter((s) => s.path === '/settle')).toHaveLength(2);
    const cost = (await q.client().usage({ userId, model })).buckets.find((b) => b.metric === 'cost');
    expect(cost).toMatchObject({ used: 0.2, held: 0 });
  });

  it('waits as long as Retry-After asks before the next attempt', async () => {
    const { userId, model, client } = await subject({ retries: 1 });
    Object.assign(proxy.plan, { fail: 1, retryAfter: '1' });
    const started = Date.now();
    expect(await client.check({ userId, model })).toMatchObject({ allowed: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    expect(proxy.seen).toHaveLength(2);
  });

  it('gives up at once when Retry-After is past its backoff bound', async () => {
    const { userId, model, client } = await subject({ retries: 3, failMode: 'closed' });
    Object.assign(proxy.plan, { fail: 5, retryAfter: '30' });
    const started = Date.now();
    const error = await client.reserve({ requestId: uid('r'), userId, model }).catch((e) => e);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error).toBeInstanceOf(QuotaUnavailableError);
    expect(error.attempts).toBe(1);
    expect(proxy.seen).toHaveLength(1);
  });

  it('after its retries a 503 is unavailability: closed throws with the problem as cause, open runs the call', async () => {
    const { q, userId, model, client } = await subject({ retries: 2, failMode: 'closed' });
    proxy.plan.fail = 3;
    const call = vi.fn(async () => ({ result: 'ran', usage: { costUsd: 0.1 } }));
    const error = await client.guard({ userId, model }, call).catch((e) => e);
    expect(error).toBeInstanceOf(QuotaUnavailableError);
    expect(error).toMatchObject({ operation: 'reserve', attempts: 3 });
    expect(error.cause).toBeInstanceOf(QuotaRequestError);
    expect(error.cause).toMatchObject({ status: 503, code: 'store_unavailable' });
    expect(call).not.toHaveBeenCalled();

    const open = q.client({ baseUrl: proxy.url, retries: 2, failMode: 'open' });
    proxy.plan.fail = 3;
    const outcome = await open.guard({ userId, model }, call);
    // The reserve was lost, the settle went through: it lands as a direct settle.
    expect(outcome).toMatchObject({ allowed: true, failOpen: true, decision: null, result: 'ran' });
    expect(outcome).toMatchObject({ settlement: { status: 'settled', duplicate: false }, settleError: null });
  });

  it('never retries a 4xx', async () => {
    const { userId, model, client } = await subject({ retries: 3 });
    const error = await client.reserve({ requestId: '', userId, model }).catch((e) => e);
    expect(error).toBeInstanceOf(QuotaRequestError);
    expect(error).toMatchObject({ status: 400, code: 'validation_failed' });
    const unknown = await client.release(uid('r')).catch((e) => e);
    expect(unknown).toMatchObject({ status: 404, code: 'not_found' });
    expect(proxy.seen).toHaveLength(2);
  });
});
