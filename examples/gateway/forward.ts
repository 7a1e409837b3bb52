import type http from 'node:http';
import type { GuardReservation, GuardUsage } from '../../src/client/index.js';
import { sseEvents } from './sse.js';

export interface ChatRequest {
  model?: unknown;
  messages?: { role: string; content: string }[];
  max_tokens?: number;
  stream?: boolean;
}

/** OpenAI's usage object, plus `cost` in USD as OpenRouter reports it. */
export interface UpstreamUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  cost?: number;
}

export class UpstreamError extends Error {
  constructor(readonly status: number) {
    super(`upstream answered ${status}`);
  }
}

export interface Forward {
  upstreamUrl: string;
  body: ChatRequest;
  res: http.ServerResponse;
  signal: AbortSignal;
  holdSeconds: number;
  extendEveryMs: number;
  /** Charged when a stream ends without reporting usage: what was held, rather than nothing. */
  estimate: UpstreamUsage;
  log: (message: string) => void;
}

/**
 * The guarded call: forwards the completion, relays the answer (SSE events verbatim while
 * streaming, extending the hold on a timer) and reports the upstream's usage for the settle.
 */
export async function forward(
  f: Forward,
  reservation: GuardReservation,
): Promise<{ result: string; usage: GuardUsage }> {
  const upstream = await fetch(new URL('/v1/chat/completions', f.upstreamUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(f.body.stream ? { ...f.body, stream_options: { include_usage: true } } : f.body),
    signal: f.signal,
  });
  if (!upstream.ok || upstream.body === null) throw new UpstreamError(upstream.status);
  const headers = { 'x-request-id': reservation.requestId };

  if (!f.body.stream) {
    const reply = (await upstream.json()) as { usage?: UpstreamUsage };
    f.res.writeHead(200, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify(reply));
    return { result: 'complete', usage: settleUsage(reply.usage ?? f.estimate) };
  }

  f.res.writeHead(200, { ...headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  // A stream may outlive its hold: keep pushing the expiry (and the concurrency slot) while it flows.
  const keepAlive =
    f.extendEveryMs > 0
      ? setInterval(() => {
          reservation
            .extend(f.holdSeconds)
            .catch((error: unknown) => f.log(`extend failed: ${String(error)}`));
        }, f.extendEveryMs)
      : undefined;
  try {
    let usage: UpstreamUsage | undefined;
    for await (const event of sseEvents(upstream.body)) {
      f.res.write(event.raw);
      if (event.data === null || event.data === '[DONE]') continue;
      const chunk = JSON.parse(event.data) as { usage?: UpstreamUsage | null };
      if (chunk.usage) usage = chunk.usage;
    }
    f.res.end();
    return { result: 'streamed', usage: settleUsage(usage ?? f.estimate) };
  } finally {
    clearInterval(keepAlive);
  }
}

function settleUsage(usage: UpstreamUsage): GuardUsage {
  return {
    costUsd: usage.cost ?? 0,
    inputTokens: usage.prompt_tokens ?? 0,
    outputTokens: usage.completion_tokens ?? 0,
  };
}
