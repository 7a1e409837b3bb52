/** Cold decisions, one at a time, and the time to warm every user at a fixed concurrency. */
export interface Gateway {
  url: string;
  token: string;
  model: string;
}

interface CheckBody {
  allowed: boolean;
  failOpen: boolean;
  buckets: { window: string | null; metric: string; used: number }[];
}

export async function check(gateway: Gateway, userId: string): Promise<CheckBody> {
  const res = await fetch(`${gateway.url}/check`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gateway.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ userId, model: gateway.model }),
  });
  const text = await res.text();
  if (res.status !== 200 && res.status !== 429)
    throw new Error(`/check for ${userId}: ${res.status} ${text}`);
  const body = JSON.parse(text) as CheckBody;
  if (body.failOpen) throw new Error(`/check for ${userId} failed open: the rebuild did not answer`);
  return body;
}

export interface Percentiles {
  p50: number;
  p99: number;
  count: number;
}

export function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), count: sorted.length };
}

/** Each user's first decision after the flush, sequentially (no queueing in the figure): ms. */
export async function coldDecisions(gateway: Gateway, userIds: string[]): Promise<Percentiles> {
  const samples: number[] = [];
  for (const userId of userIds) {
    const started = performance.now();
    await check(gateway, userId);
    samples.push(performance.now() - started);
  }
  return percentiles(samples);
}

/** Every user's first decision, `width` in flight: seconds until the last answered. */
export async function warmEveryone(gateway: Gateway, userIds: string[], width: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < userIds.length) await check(gateway, userIds[next++] as string);
  };
  await Promise.all(Array.from({ length: Math.min(width, userIds.length) }, worker));
  return (performance.now() - started) / 1000;
}
