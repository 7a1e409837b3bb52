import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { QuotaClient, type BucketState } from '../../src/client/index.js';
import { createGateway } from '../../examples/gateway/gateway.js';
import { createStubUpstream, DEFAULT_PRICE, listenLocal } from '../../examples/gateway/stub-upstream.js';
import { SERVICE_TOKEN } from '../support/app.js';
import { describeWithServers } from '../support/services.js';
import { deadUrl, uid, useQuotagate } from './support.js';

const CHUNK_MS = 150;
type Server = ReturnType<typeof createGateway>;

/** POST /v1/chat/completions as user `userId`; 40 characters of prompt: 10 tokens for the stub. */
const completion = (gateway: string, userId: string, model: string, maxTokens: number, stream = true) =>
  fetch(`${gateway}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': userId },
    body: JSON.stringify({
      model,
      stream,
      max_tokens: maxTokens,
      messages: [{ role: 'user', content: 'x'.repeat(40) }],
    }),
  });

/** A completion read to its end. */
async function chat(gateway: string, userId: string, model: string, maxTokens: number, stream = true) {
  const response = await completion(gateway, userId, model, maxTokens, stream);
  return { response, text: await response.text() };
}

/** A streamed completion read as it arrives: `reached(n)` once n content chunks came in. */
function stream(gateway: string, userId: string, model: string, maxTokens: number) {
  let text = '';
  const waiting: { n: number; resolve: () => void }[] = [];
  // Complete events only: the last one may still be arriving.
  const chunks = () => streamedContent(text.slice(0, text.lastIndexOf('\n\n') + 2)).split(' ').length - 1;
  const done = (async () => {
    const response = await completion(gateway, userId, model, maxTokens);
    for await (const part of (response.body ?? new ReadableStream()).pipeThrough(new TextDecoderStream())) {
      text += part;
      for (const w of waiting.filter((w) => chunks() >= w.n)) w.resolve();
    }
    for (const w of waiting) w.resolve();
    return { status: response.status, text };
  })();
  const reached = (n: number) =>
    new Promise<void>((resolve) => (chunks() >= n ? resolve() : waiting.push({ n, resolve })));
  return { done, reached, chunks };
}

function streamedContent(sse: string): string {
  return sse
    .split('\n\n')
    .filter((event) => event.startsWith('data: {'))
    .map((event) => JSON.parse(event.slice(6)).choices?.[0]?.delta?.content ?? '')
    .join('');
}

/** examples/gateway: an OpenAI-compatible proxy over the client, against a running quotagate. */
describeWithServers('example gateway (examples/gateway)', () => {
  const quotagate = useQuotagate();
  const servers: Server[] = [];
  let upstreamUrl = '';

  beforeAll(async () => {
    const upstream = createStubUpstream({ chunkDelayMs: CHUNK_MS });
    servers.push(upstream);
    upstreamUrl = await listenLocal(upstream);
  });
  afterAll(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))));

  async function gateway(
    options: { holdSeconds?: number; extendEveryMs?: number; quota?: QuotaClient } = {},
  ) {
    const model = uid('gpt');
    const server = createGateway({
      quota: options.quota ?? quotagate().client(),
      upstreamUrl,
      prices: { [model]: DEFAULT_PRICE },
      ...options,
    });
    servers.push(server);
    return { url: await listenLocal(server), model };
  }

  async function user(model: string, limits: object[]) {
    const userId = uid('u');
    await quotagate().userLimits(userId, [model], limits);
    const usage = async () =>
      Object.fromEntries(
        (await quotagate().client().usage({ userId, model })).buckets.map((b: BucketState) => [b.metric, b]),
      );
    return { userId, usage };
  }

  it('streams admitted requests and answers 429 with Retry-After once the requests cap is reached', async () => {
    const g = await gateway();
    const { userId } = await user(g.model, [{ metric: 'requests', window: '1m', limit: 2 }]);
    const streamed = await chat(g.url, userId, g.model, 3);
    expect(streamed.response.status).toBe(200);
    expect(streamed.response.headers.get('content-type')).toBe('text/event-stream');
    expect(streamedContent(streamed.text)).toBe('w0 w1 w2 ');
    expect(streamed.text).toContain('"usage":{"prompt_tokens":10,"completion_tokens":3');
    expect(streamed.text.trim().endsWith('data: [DONE]')).toBe(true);
    const whole = await chat(g.url, userId, g.model, 2, false);
    expect(whole.response.status).toBe(200);
    expect(JSON.parse(whole.text).choices[0].message.content).toBe('w0 w1 ');

    const refused = await chat(g.url, userId, g.model, 3);
    expect(refused.response.status).toBe(429);
    const retryAfter = Number(refused.response.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(JSON.parse(refused.text).error).toMatchObject({ type: 'rate_limit_exceeded' });
    expect(JSON.parse(refused.text).error.message).toContain('requests 1m');
  });

  it('extends the hold while it streams past its first ttl, then settles the reported tokens', async () => {
    // Holds of 1 s: the extending gateway pushes them every 250 ms, the other one never.
    const extending = await gateway({ holdSeconds: 1, extendEveryMs: 250 });
    const lapsing = await gateway({ holdSeconds: 1, extendEveryMs: 0 });
    const limits = [
      { metric: 'concurrency', limit: 1 },
      { metric: 'cost', window: 'daily', limit: 10 },
      { metric: 'input_tokens', window: 'daily', limit: 10_000 },
      { metric: 'output_tokens', window: 'daily', limit: 10_000 },
      { metric: 'tokens', window: 'daily', limit: 20_000 },
    ];
    const kept = await user(extending.model, limits);
    const lost = await user(lapsing.model, limits);

    // 20 chunks at 150 ms: a 3 s stream. The reservation precedes the upstream call, so by the
    // 10th chunk (≥ 1.5 s after it) a hold of 1 s that nobody extended has lapsed.
    const keptStream = stream(extending.url, kept.userId, extending.model, 20);
    const lostStream = stream(lapsing.url, lost.userId, lapsing.model, 20);
    await Promise.all([keptStream.reached(10), lostStream.reached(10)]);
    const [keptMid, lostMid] = await Promise.all([kept.usage(), lost.usage()]);
    const second = await chat(extending.url, kept.userId, extending.model, 1);
    expect(keptStream.chunks(), 'the first stream is still running').toBeLessThan(20);

    expect(keptMid.concurrency).toMatchObject({ used: 1 });
    expect(keptMid.tokens).toMatchObject({ used: 0, held: 30 });
    expect(keptMid.output_tokens).toMatchObject({ held: 20 });
    expect(second.response.status).toBe(429);
    expect(JSON.parse(second.text).error.message).toContain('concurrency');
    expect(lostMid.concurrency).toMatchObject({ used: 0 });
    expect(lostMid.tokens).toMatchObject({ used: 0, held: 0 });

    for (const done of await Promise.all([keptStream.done, lostStream.done])) {
      expect(done.status).toBe(200);
      expect(streamedContent(done.text)).toBe(Array.from({ length: 20 }, (_, i) => `w${i} `).join(''));
    }
    // The gateway settles once the stream has ended: the reported usage lands in the token
    // buckets moments later, whether the hold lived or lapsed.
    for (const subject of [kept, lost]) {
      await vi.waitFor(
        async () => {
          const after = await subject.usage();
          expect(after.input_tokens).toMatchObject({ used: 10, held: 0 });
          expect(after.output_tokens).toMatchObject({ used: 20, held: 0 });
          expect(after.tokens).toMatchObject({ used: 30, held: 0 });
          expect(after.cost).toMatchObject({ used: (10 * 3 + 20 * 15) / 1e6, held: 0 });
          expect(after.concurrency).toMatchObject({ used: 0 });
        },
        { timeout: 5_000, interval: 50 },
      );
    }
  });

  describe('quotagate unreachable', () => {
    it('failMode closed answers 503; failMode open serves the stream', async () => {
      const url = await deadUrl();
      const client = (failMode: 'open' | 'closed') =>
        new QuotaClient({
          baseUrl: url,
          token: SERVICE_TOKEN,
          failMode,
          retries: 1,
          backoff: { baseMs: 10 },
        });
      const closed = await gateway({ quota: client('closed') });
      const refused = await chat(closed.url, 'u-1', closed.model, 2);
      expect(refused.response.status).toBe(503);
      expect(refused.response.headers.get('retry-after')).toBe('1');
      const open = await gateway({ quota: client('open') });
      const served = await chat(open.url, 'u-1', open.model, 2);
      expect(served.response.status).toBe(200);
      expect(streamedContent(served.text)).toBe('w0 w1 ');
    });
  });
});
