/**
 * The benchmark's tenant, written through the admin API as an operator would: one model
 * group, one user group whose per-member limits give every user five buckets, and a daily
 * cost limit per key: six buckets per request, each warmed before anything is measured.
 */
export const MODEL = 'bench-model-1';
/** A second group whose scoped limits are token limits: the /check cost of token buckets. */
export const TOKEN_MODEL = 'bench-model-tokens';
export const ESTIMATED_TOKENS = { estimatedInputTokens: 1_200, estimatedOutputTokens: 800 };
export const ESTIMATE_USD = 0.01;
export const COST_USD = 0.012;

export const userIdOf = (i: number) => `u-${i}`;
export const keyIdOf = (i: number) => `k-${i}`;

/**
 * Caps far above what a run spends, so answers are mostly 200s; requests/1m stays at the
 * exact-log size (≤ 1000), the costlier structure, rather than the sliced one.
 */
const USER_LIMITS = [
  { metric: 'cost', window: '5h', reset: 'rolling', limit: 1_000, scoped: true },
  { metric: 'cost', window: 'daily', reset: 'calendar', limit: 5_000, scoped: true },
  { metric: 'cost', window: 'weekly', reset: 'calendar', limit: 20_000, scoped: true },
  { metric: 'requests', window: '1m', reset: 'rolling', limit: 1_000, scoped: false },
  { metric: 'concurrency', window: null, reset: null, limit: 50, scoped: false },
] as const;
const KEY_DAILY_COST_USD = 1_000;
/** On TOKEN_MODEL: three token buckets and one cost bucket, plus requests and concurrency. */
const TOKEN_LIMITS = [
  { metric: 'tokens', window: '5h', reset: 'rolling', limit: 1_000_000_000 },
  { metric: 'input_tokens', window: 'daily', reset: 'calendar', limit: 1_000_000_000 },
  { metric: 'output_tokens', window: 'weekly', reset: 'calendar', limit: 1_000_000_000 },
  { metric: 'cost', window: '5h', reset: 'rolling', limit: 1_000 },
] as const;
export const BUCKETS_PER_REQUEST = USER_LIMITS.length + 1;

export interface Seeded {
  modelGroupId: number;
  userGroupId: number;
  limits: number;
  seedSeconds: number;
  warmSeconds: number;
}

export class AdminClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async send<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : null) as T;
  }
}

/** Runs `task(i)` for i in [0, n) with at most `width` in flight. */
async function inParallel(n: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
}

export async function seed(admin: AdminClient, users: number): Promise<Omit<Seeded, 'warmSeconds'>> {
  const started = performance.now();
  const group = await admin.send<{ id: number }>('POST', '/admin/model-groups', {
    name: 'bench',
    models: [MODEL],
  });
  const userGroup = await admin.send<{ id: number }>('POST', '/admin/user-groups', { name: 'bench-users' });
  const tokenGroup = await admin.send<{ id: number }>('POST', '/admin/model-groups', {
    name: 'bench-tokens',
    models: [TOKEN_MODEL],
  });
  for (const l of TOKEN_LIMITS) {
    await admin.send('PUT', '/admin/limits', {
      subjectType: 'user_group',
      subjectId: String(userGroup.id),
      modelGroupId: tokenGroup.id,
      metric: l.metric,
      window: l.window,
      reset: l.reset,
      limit: l.limit,
    });
  }
  for (let from = 0; from < users; from += 1000) {
    const userIds = Array.from({ length: Math.min(1000, users - from) }, (_, j) => userIdOf(from + j));
    await admin.send('POST', `/admin/user-groups/${userGroup.id}/members`, { userIds });
  }
  for (const l of USER_LIMITS) {
    await admin.send('PUT', '/admin/limits', {
      subjectType: 'user_group',
      subjectId: String(userGroup.id),
      modelGroupId: l.scoped ? group.id : null,
      metric: l.metric,
      ...(l.window ? { window: l.window, reset: l.reset } : {}),
      limit: l.limit,
    });
  }
  // Keys have no groups (SPEC §2: a key's own limits only), so one limit per key.
  // Every admin write reloads the snapshot before it answers: a few in flight suffice.
  await inParallel(users, 4, async (i) => {
    await admin.send('PUT', '/admin/limits', {
      subjectType: 'key',
      subjectId: keyIdOf(i),
      modelGroupId: group.id,
      metric: 'cost',
      window: 'daily',
      limit: KEY_DAILY_COST_USD,
    });
  });
  return {
    modelGroupId: group.id,
    userGroupId: userGroup.id,
    limits: USER_LIMITS.length + TOKEN_LIMITS.length + users,
    seedSeconds: (performance.now() - started) / 1000,
  };
}

/**
 * One /check per user: the first decision on a cold subject rebuilds its buckets from
 * PostgreSQL, which is not what the steady state measures. Also checks the fixture: every
 * answer must name at least BUCKETS_PER_REQUEST buckets.
 */
export async function warmUsers(
  baseUrl: string,
  token: string,
  users: number,
  model: string = MODEL,
): Promise<number> {
  const started = performance.now();
  await inParallel(users, 16, async (i) => {
    // A loaded machine may answer before the config poll has seen the last seeded limits.
    for (let attempt = 1; ; attempt++) {
      const n = await warmOne(baseUrl, token, i, model);
      if (n >= BUCKETS_PER_REQUEST) return;
      if (attempt >= 50) throw new Error(`${userIdOf(i)} hits ${n} buckets, expected ${BUCKETS_PER_REQUEST}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });
  return (performance.now() - started) / 1000;
}

/** One warm-up /check; the number of buckets it names. */
async function warmOne(baseUrl: string, token: string, i: number, model: string): Promise<number> {
  const res = await fetch(`${baseUrl}/check`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      userId: userIdOf(i),
      keyId: model === MODEL ? keyIdOf(i) : undefined,
      model,
      estimatedCostUsd: ESTIMATE_USD,
      ...ESTIMATED_TOKENS,
    }),
  });
  const body = (await res.json()) as { buckets?: unknown[] };
  if (res.status !== 200) throw new Error(`warm-up /check for ${userIdOf(i)} answered ${res.status}`);
  return body.buckets?.length ?? 0;
}
