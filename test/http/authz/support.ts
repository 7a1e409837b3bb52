import type { InjectOptions } from 'fastify';
import { SERVICE_TOKEN } from '../../support/app.js';
import type { Answer, Gate } from '../decisions/support.js';

/** The headers a reverse proxy sends to /authz; the token is added unless given. */
export type ProxyHeaders = Record<string, string>;

/** One /authz call at `now`, as a proxy makes it (no body unless `payload`). */
export async function authz(
  g: Gate,
  headers: ProxyHeaders,
  now: number,
  options: { method?: InjectOptions['method']; url?: string; payload?: string } = {},
): Promise<Answer> {
  const raw = await g.t.inject({
    method: options.method ?? 'GET',
    url: options.url ?? '/authz',
    headers: { 'x-quota-token': SERVICE_TOKEN, 'x-quota-test-now': String(now), ...headers },
    ...(options.payload === undefined ? {} : { payload: options.payload }),
  });
  let body: unknown = raw.body;
  try {
    body = raw.body === '' ? '' : raw.json();
  } catch {
    // not JSON: kept as text
  }
  return { status: raw.statusCode, body, headers: raw.headers, raw };
}

/** The bucket of /usage with this key (undefined if absent). */
export async function usageBucket(g: Gate, query: Record<string, string>, key: string, now: number) {
  const usage = await g.usage(query, now);
  return (usage.body.buckets as { key: string; used: number; held: number }[]).find((b) => b.key === key);
}
