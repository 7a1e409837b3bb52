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

export async function check(gateway: Gateway, userId: string, failOpenOk = false): Promise<CheckBody> {
  const res = await fetch(`${gateway.url}/check`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gateway.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ userId, model: gateway.model }),
  });
  const text = await res.text();
  if (res.status !== 200 && res.status !== 429)
    throw new Error(`/check for ${userId}: ${res.status} ${text}`);
  const body = JSON.parse(text) as CheckBody;
  if (body.failOpen && !failOpenOk)
    throw new Error(`/check for ${userId} failed open: the rebuild did not answer`);
  return body;
}

export interface Percentiles {
  p50: number;
  p99: number;
  count: number;
  /** Answers that failed open (the rebuild did not answer in time), when the caller allows them. */
  failedOpen?: number;
}

export function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), count: sorted.length };
}

/**
 * Each user's first decision after the flush, sequentially (no queueing in the figure), in
 * ms per group. The groups are interleaved (one heavy user, then a share of the light and
 * new ones, and so on), so the run's first decisions, which also pay each pooled
 * connection's first look at the partitions and the JIT of the rebuild path, fall on every
 * group alike instead of all on whichever group went first.
 */
export async function coldDecisions<G extends string>(
  gateway: Gateway,
  groups: Record<G, string[]>,
  /** Count answers that failed open (timed like the rest) instead of failing the run. */
  failOpenOk = false,
): Promise<Record<G, Percentiles>> {
  const samples = new Map<G, number[]>();
  const failed = new Map<G, number>();
  for (const [group, userId] of interleave(groups)) {
    const started = performance.now();
    const body = await check(gateway, userId, failOpenOk);
    const list = samples.get(group) ?? [];
    list.push(performance.now() - started);
    samples.set(group, list);
    if (body.failOpen) failed.set(group, (failed.get(group) ?? 0) + 1);
  }
  const out = {} as Record<G, Percentiles>;
  for (const group of Object.keys(groups) as G[])
    out[group] = { ...percentiles(samples.get(group) ?? []), failedOpen: failed.get(group) ?? 0 };
  return out;
}

/** [group, user] pairs, each group's users spread evenly over the whole sequence. */
export function interleave<G extends string>(groups: Record<G, string[]>): [G, string][] {
  const placed: { at: number; group: G; userId: string }[] = [];
  for (const group of Object.keys(groups) as G[]) {
    const ids = groups[group];
    ids.forEach((userId, i) => placed.push({ at: (i + 0.5) / ids.length, group, userId }));
  }
  return placed.sort((a, b) => a.at - b.at).map((p) => [p.group, p.userId]);
}

/**
 * Every user's first decision, `width` in flight: seconds until every user had a judged
 * answer. A rebuild that waited too long for a PostgreSQL connection answers by FAIL_MODE
 * (counted in `failedOpen`) and its user is asked again.
 */
export async function warmEveryone(
  gateway: Gateway,
  userIds: string[],
  width: number,
): Promise<{ seconds: number; failedOpen: number }> {
  const started = performance.now();
  const queue = [...userIds];
  let failedOpen = 0;
  const worker = async () => {
    for (let userId = queue.shift(); userId !== undefined; userId = queue.shift()) {
      if (!(await check(gateway, userId, true)).failOpen) continue;
      failedOpen++;
      queue.push(userId);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, userIds.length) }, worker));
  return { seconds: (performance.now() - started) / 1000, failedOpen };
}
