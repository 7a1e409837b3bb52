import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { text } from 'node:stream/consumers';

/**
 * A stand-in for an OpenAI-compatible provider: `POST /v1/chat/completions` answers
 * `max_tokens` completion tokens, one per SSE chunk when `stream: true`, and reports
 * `usage` (prompt_tokens, completion_tokens, cost in USD, as OpenRouter does) at the end.
 */
export interface StubUpstreamOptions {
  /** Pause before each streamed chunk. Default 20. */
  chunkDelayMs?: number;
  /** USD per million tokens. Default $3 in, $15 out. */
  price?: { inputPerMTok: number; outputPerMTok: number };
}

interface ChatRequest {
  model?: string;
  messages?: { role: string; content: string }[];
  max_tokens?: number;
  stream?: boolean;
}

export const DEFAULT_PRICE = { inputPerMTok: 3, outputPerMTok: 15 };

/** The stub's tokenizer: a token per 4 characters of message content. */
export function promptTokens(messages: ChatRequest['messages']): number {
  const chars = (messages ?? []).reduce((sum, m) => sum + String(m.content ?? '').length, 0);
  return Math.ceil(chars / 4);
}

export function createStubUpstream(options: StubUpstreamOptions = {}): http.Server {
  const delay = options.chunkDelayMs ?? 20;
  const price = options.price ?? DEFAULT_PRICE;
  return http.createServer(async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404).end();
      return;
    }
    const body = JSON.parse(await text(req)) as ChatRequest;
    const model = body.model ?? 'stub';
    const prompt = promptTokens(body.messages);
    const completion = body.max_tokens ?? 16;
    const usage = {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      cost: Number(((prompt * price.inputPerMTok + completion * price.outputPerMTok) / 1e6).toFixed(6)),
    };
    const id = `chatcmpl-${Date.now().toString(36)}`;
    const created = Math.floor(Date.now() / 1000);
    const words = Array.from({ length: completion }, (_, i) => `w${i} `);

    if (!body.stream) {
      const message = { role: 'assistant', content: words.join('') };
      const reply = {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [{ index: 0, message, finish_reason: 'stop' }],
        usage,
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
      return;
    }

    let gone = false;
    res.on('close', () => (gone = true));
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
    const chunk = (choices: unknown[], extra: object = {}) =>
      send({ id, object: 'chat.completion.chunk', created, model, choices, ...extra });
    for (const [i, word] of words.entries()) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (gone) return;
      chunk([
        {
          index: 0,
          delta: i === 0 ? { role: 'assistant', content: word } : { content: word },
          finish_reason: null,
        },
      ]);
    }
    chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]);
    // As OpenAI with stream_options.include_usage: a last chunk with no choices and the usage.
    chunk([], { usage });
    res.end('data: [DONE]\n\n');
  });
}

/** Listens on a free loopback port; resolves the base URL. */
export async function listenLocal(server: http.Server, port = 0): Promise<string> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
