import http from 'node:http';
import { text } from 'node:stream/consumers';
// In a gateway of your own: import { … } from '@quotagate/client';
import {
  QuotaRequestError,
  QuotaUnavailableError,
  retryAfterSeconds,
  type QuotaClient,
} from '../../src/client/index.js';
import { forward, UpstreamError, type ChatRequest } from './forward.js';
import { promptTokens } from './stub-upstream.js';

/**
 * An OpenAI-compatible proxy with quotas: `POST /v1/chat/completions` for the user named in
 * `x-user-id` (and the key in `x-key-id`) is reserved in quotagate with its estimates,
 * forwarded, streamed back while the hold is extended, and settled with the usage the
 * upstream reports. A refusal is a 429 with Retry-After in OpenAI's error format.
 */
export interface GatewayOptions {
  quota: QuotaClient;
  /** Base URL of the provider, e.g. `https://api.openai.com`. */
  upstreamUrl: string;
  /** Lifetime of the hold at /reserve and at every /extend. Default 60. */
  holdSeconds?: number;
  /** While streaming, extend the hold this often; 0 never. Default a third of holdSeconds. */
  extendEveryMs?: number;
  /** USD per million tokens by model, for the cost estimate held at /reserve. */
  prices?: Record<string, { inputPerMTok: number; outputPerMTok: number }>;
  log?: (message: string) => void;
}

export function createGateway(options: GatewayOptions): http.Server {
  const holdSeconds = options.holdSeconds ?? 60;
  const extendEveryMs = options.extendEveryMs ?? (holdSeconds * 1000) / 3;
  const log = options.log ?? (() => undefined);

  return http.createServer(async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      return fail(res, 404, 'not_found', 'Unknown route');
    }
    const userId = header(req, 'x-user-id');
    if (!userId) return fail(res, 401, 'invalid_api_key', 'x-user-id is required');
    let body: ChatRequest;
    try {
      body = JSON.parse(await text(req)) as ChatRequest;
    } catch {
      return fail(res, 400, 'invalid_request_error', 'The body is not JSON');
    }
    if (typeof body.model !== 'string' || body.model === '') {
      return fail(res, 400, 'invalid_request_error', 'model is required');
    }
    const model = body.model;
    const inputTokens = promptTokens(body.messages);
    const outputTokens = body.max_tokens ?? 1024;
    const price = options.prices?.[model];
    const costUsd = price
      ? Number(((inputTokens * price.inputPerMTok + outputTokens * price.outputPerMTok) / 1e6).toFixed(6))
      : undefined;

    // The client hanging up aborts the upstream call; the guard then releases the hold.
    const abort = new AbortController();
    res.on('close', () => abort.abort());

    try {
      const outcome = await options.quota.guard(
        {
          userId,
          keyId: header(req, 'x-key-id'),
          model,
          estimatedCostUsd: costUsd,
          estimatedInputTokens: inputTokens,
          estimatedOutputTokens: outputTokens,
          ttlSeconds: holdSeconds,
        },
        (reservation) =>
          forward(
            {
              upstreamUrl: options.upstreamUrl,
              body,
              res,
              signal: abort.signal,
              holdSeconds,
              extendEveryMs,
              estimate: { prompt_tokens: inputTokens, completion_tokens: outputTokens, cost: costUsd ?? 0 },
              log,
            },
            reservation,
          ),
      );
      if (!outcome.allowed) {
        const retryAfter = retryAfterSeconds(outcome.decision);
        res.setHeader('x-request-id', outcome.requestId);
        if (retryAfter !== null) res.setHeader('retry-after', String(retryAfter));
        return fail(res, 429, 'rate_limit_exceeded', outcome.decision.reason ?? 'Quota exceeded');
      }
      if (outcome.settleError) log(`settle of ${outcome.requestId} failed: ${outcome.settleError.message}`);
    } catch (error) {
      if (res.headersSent) {
        // Mid-stream nothing can be said in HTTP any more. (A production gateway settles what
        // the provider bills for a cut stream; this stub bills nothing for one.)
        res.destroy();
      } else if (error instanceof QuotaUnavailableError) {
        res.setHeader('retry-after', '1');
        fail(res, 503, 'service_unavailable', 'Quota service unavailable');
      } else if (error instanceof UpstreamError) {
        fail(res, 502, 'upstream_error', error.message);
      } else if (error instanceof QuotaRequestError && error.status === 400) {
        fail(res, 400, 'invalid_request_error', error.problem?.detail ?? error.message);
      } else {
        log(`request failed: ${String(error)}`);
        fail(res, 500, 'internal_error', 'Internal error');
      }
    }
  });
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** An error in OpenAI's format, which SDKs and chat front ends already understand. */
function fail(res: http.ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message, type: code, code } }));
}
