import { QuotaRequestError, QuotaUnavailableError } from './errors.js';
import type { Problem } from './types.js';

export interface TransportSettings {
  baseUrl: string;
  token: string;
  timeoutMs: number;
  retries: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  fetch: typeof fetch;
  headers: Record<string, string>;
}

export interface Answer {
  status: number;
  body: unknown;
}

/** quotagate (or a proxy in front of it) cannot answer now: worth another attempt. */
const UNAVAILABLE = new Set([502, 503, 504]);

/**
 * One logical call: the same method, path and body on every attempt (so a retried /reserve
 * or /settle carries the same requestId and stays idempotent), a fresh timeout per attempt,
 * and exponential backoff between attempts. Network errors, timeouts and 502/503/504 are
 * retried; any other answer is returned to the caller as it is, 4xx included.
 */
export async function send(
  settings: TransportSettings,
  operation: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<Answer> {
  const url = new URL(path, settings.baseUrl.endsWith('/') ? settings.baseUrl : `${settings.baseUrl}/`);
  const init = {
    method,
    headers: {
      ...settings.headers,
      accept: 'application/json',
      authorization: `Bearer ${settings.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  };
  let failure: unknown;
  let attempt = 0;
  for (;;) {
    attempt++;
    let retryAfterMs: number | null = null;
    try {
      const response = await settings.fetch(url, {
        ...init,
        signal: AbortSignal.timeout(settings.timeoutMs),
      });
      const text = await response.text();
      if (!UNAVAILABLE.has(response.status)) return { status: response.status, body: parseJson(text) };
      failure = new QuotaRequestError(operation, response.status, asProblem(parseJson(text)));
      retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    } catch (error) {
      failure = error;
    }
    if (attempt > settings.retries) break;
    const delay = Math.max(backoff(settings, attempt), retryAfterMs ?? 0);
    // The server asked for more patience than this client may spend: give up now rather
    // than knock again before the time it named.
    if (retryAfterMs !== null && retryAfterMs > settings.backoffMaxMs) break;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  throw new QuotaUnavailableError(operation, attempt, failure);
}

/** "Equal jitter": half the exponential step fixed, half random, capped. */
function backoff(settings: TransportSettings, attempt: number): number {
  const step = Math.min(settings.backoffMaxMs, settings.backoffBaseMs * 2 ** (attempt - 1));
  return step / 2 + (Math.random() * step) / 2;
}

/** Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3), in ms; null if absent or unreadable. */
export function parseRetryAfter(value: string | null): number | null {
  if (value === null || value.trim() === '') return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

function parseJson(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

export function asProblem(body: unknown): Problem | null {
  if (typeof body !== 'object' || body === null) return null;
  const { code, status } = body as Partial<Problem>;
  return typeof code === 'string' && typeof status === 'number' ? (body as Problem) : null;
}
