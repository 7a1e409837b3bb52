import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { QuotaClient, QuotaUnavailableError } from '../../src/client/index.js';
import { deadUrl, listen } from './support.js';

/** The client-side failure policy (SPEC §7.2) when quotagate cannot be reached at all. */
describe('quotagate unreachable (nothing listens on the port)', () => {
  let url = '';
  beforeAll(async () => {
    url = await deadUrl();
  });
  const client = (failMode: 'open' | 'closed', onError = vi.fn()) =>
    new QuotaClient({ baseUrl: url, token: 't', failMode, retries: 2, backoff: { baseMs: 10 }, onError });

  it('failMode closed: guard throws QuotaUnavailableError with the network error as cause, and never runs the call', async () => {
    const call = vi.fn(async () => ({ result: 1, usage: { costUsd: 0 } }));
    const error = await client('closed')
      .guard({ userId: 'u', model: 'm' }, call)
      .catch((e) => e);
    expect(error).toBeInstanceOf(QuotaUnavailableError);
    expect(error).toMatchObject({ operation: 'reserve', attempts: 3 });
    expect(error.cause).toBeInstanceOf(TypeError);
    expect(String(error.cause.cause?.code ?? error.cause.cause)).toContain('ECONNREFUSED');
    expect(call).not.toHaveBeenCalled();
  });

  it('failMode open: guard runs the call and says it failed open, reporting what it absorbed', async () => {
    const onError = vi.fn();
    const outcome = await client('open', onError).guard({ userId: 'u', model: 'm' }, async (reservation) => {
      expect(reservation).toMatchObject({ failOpen: true, decision: null });
      expect(await reservation.extend(60)).toBeNull();
      return { result: 'served', usage: { costUsd: 0.01 } };
    });
    expect(outcome).toMatchObject({
      allowed: true,
      failOpen: true,
      decision: null,
      result: 'served',
      settlement: null,
    });
    if (!outcome.allowed) throw new Error('refused');
    expect(outcome.settleError).toBeInstanceOf(QuotaUnavailableError);
    expect(onError.mock.calls.map(([error, operation]) => [error.constructor.name, operation])).toEqual([
      ['QuotaUnavailableError', 'reserve'],
      ['QuotaUnavailableError', 'settle'],
    ]);
  });

  it('failMode open: check and reserve answer a fail-open decision; the other methods throw', async () => {
    const open = client('open');
    expect(await open.check({ userId: 'u', model: 'm' })).toMatchObject({
      allowed: true,
      failOpen: true,
      requestId: null,
    });
    expect(await open.reserve({ requestId: 'r-1', userId: 'u', model: 'm' })).toMatchObject({
      allowed: true,
      failOpen: true,
      requestId: 'r-1',
      reservation: null,
      buckets: [],
    });
    for (const attempt of [
      () => open.settle({ requestId: 'r-1', costUsd: 0 }),
      () => open.release('r-1'),
      () => open.extend('r-1', 60),
      () => open.usage({ userId: 'u' }),
    ]) {
      await expect(attempt()).rejects.toBeInstanceOf(QuotaUnavailableError);
    }
  });
});

describe('per-attempt timeout', () => {
  let hanging: Awaited<ReturnType<typeof listen>>;
  let requests = 0;
  beforeAll(async () => {
    // Accepts and reads the request, never answers.
    hanging = await listen((req) => {
      requests++;
      req.resume();
    });
  });
  afterAll(() => hanging?.close());

  it('aborts each attempt after timeoutMs, retries, then is unavailable with the TimeoutError as cause', async () => {
    requests = 0;
    const client = new QuotaClient({
      baseUrl: hanging.url,
      token: 't',
      timeoutMs: 150,
      retries: 1,
      failMode: 'closed',
      backoff: { baseMs: 10 },
    });
    const started = Date.now();
    const error = await client.reserve({ requestId: 'r-1', userId: 'u', model: 'm' }).catch((e) => e);
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(QuotaUnavailableError);
    expect(error.attempts).toBe(2);
    expect(error.cause).toMatchObject({ name: 'TimeoutError' });
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(2_000);
    expect(requests).toBe(2);
  });

  it('with failMode open, guard runs the call once the attempts timed out', async () => {
    const client = new QuotaClient({
      baseUrl: hanging.url,
      token: 't',
      timeoutMs: 100,
      retries: 0,
      failMode: 'open',
    });
    const outcome = await client.guard({ userId: 'u', model: 'm' }, async () => ({
      result: 'served',
      usage: { costUsd: 0 },
    }));
    expect(outcome).toMatchObject({ allowed: true, failOpen: true, result: 'served' });
  });
});
