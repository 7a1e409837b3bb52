import { percentiles, type Percentiles } from './recovery/measure.js';
import type { AdminClient } from './seed.js';

/**
 * The first decision of users quotagate has never seen (a wave of sign-ups), against a warm
 * one of the same users in the same run: one /reserve each, one at a time (no queueing in
 * the figure), under the limits that make a rebuild read written-behind rows (sessions,
 * requests, a first-use window). A new user's buckets are cold, so the first decision reads
 * PostgreSQL; it has nothing to wait for unless Redis lost data lately.
 */
export const NEW_USER_MODEL = 'bench-model-signups';
const GROUP = 'bench-signups';
const LIMITS = [
  { metric: 'cost', window: '5h', reset: 'rolling', limit: 1_000 },
  { metric: 'cost', window: '8h', reset: 'first_use', limit: 2_000 },
  { metric: 'sessions', window: '20h', reset: 'rolling', limit: 1_000 },
  { metric: 'requests', window: '1m', reset: 'rolling', limit: 1_000 },
] as const;
/** The first decision may take this many times a warm one (issue 23). */
export const NEW_USER_RATIO_TARGET = 3;

export interface NewUserFigures {
  store: string;
  first: Percentiles;
  warm: Percentiles;
}

/** The sign-up tenant: limits of a user group every request names (`groups`), so any user id gets them. */
export async function configureSignups(admin: AdminClient): Promise<void> {
  const group = await admin.send<{ id: number }>('POST', '/admin/model-groups', {
    name: GROUP,
    models: [NEW_USER_MODEL],
  });
  const users = await admin.send<{ id: number }>('POST', '/admin/user-groups', { name: GROUP });
  for (const l of LIMITS)
    await admin.send('PUT', '/admin/limits', {
      subjectType: 'user_group',
      subjectId: String(users.id),
      modelGroupId: group.id,
      ...l,
    });
}

let sequence = 0;

async function reserve(url: string, token: string, userId: string, session: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${url}/reserve`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      requestId: `nu-${(sequence++).toString(36)}`,
      userId,
      groups: [GROUP],
      model: NEW_USER_MODEL,
      sessionId: session,
      estimatedCostUsd: 0.01,
    }),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  const body = JSON.parse(text) as { failOpen?: boolean; buckets?: unknown[] };
  if (res.status !== 200 || body.failOpen || (body.buckets?.length ?? 0) < LIMITS.length)
    throw new Error(`/reserve for new user ${userId} answered ${res.status}: ${text.slice(0, 300)}`);
  return ms;
}

/**
 * `users` new users in turn: each one's first /reserve (cold), then a second one with
 * another session (warm). A few unmeasured users first: JIT and pooled connections.
 */
export async function measureNewUsers(
  store: string,
  url: string,
  token: string,
  users: number,
): Promise<NewUserFigures> {
  const tag = Math.random().toString(36).slice(2, 8);
  const first: number[] = [];
  const warm: number[] = [];
  const warmup = Math.min(20, users);
  for (let i = -warmup; i < users; i++) {
    const userId = `new-${store}-${tag}-${i + warmup}`;
    const cold = await reserve(url, token, userId, 's-1');
    const again = await reserve(url, token, userId, 's-2');
    if (i < 0) continue;
    first.push(cold);
    warm.push(again);
  }
  return { store, first: percentiles(first), warm: percentiles(warm) };
}

const ms = (v: number) => v.toFixed(2);

/** The rows "first decision of a new user" per store, and whether each meets the target. */
export function renderNewUsers(rows: NewUserFigures[]): string {
  const header = [
    'first decision of a new user',
    'users',
    'first p50 ms',
    'first p99 ms',
    'warm p50 ms',
    'warm p99 ms',
    'ratio p50',
    'target',
    'met?',
  ];
  const cells = rows.map((r) => {
    const ratio = r.first.p50 / r.warm.p50;
    return [
      `/reserve, ${r.store}`,
      String(r.first.count),
      ms(r.first.p50),
      ms(r.first.p99),
      ms(r.warm.p50),
      ms(r.warm.p99),
      `${ratio.toFixed(2)}×`,
      `≤ ${NEW_USER_RATIO_TARGET}× warm`,
      ratio <= NEW_USER_RATIO_TARGET ? 'yes' : 'NO',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]) =>
    `| ${c.map((v, i) => (i === 0 ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...cells.map(line)].join('\n');
}
