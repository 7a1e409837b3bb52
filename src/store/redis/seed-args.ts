import { encodeId } from '../ids.js';
import type { SeedWrite } from '../seed-writes.js';
import { TTL_MARGIN_MS } from '../store-constants.js';

/**
 * One bucket of seed.lua's ARGV: warm field, mode, usage ttl, active ttl, n, n pairs, m,
 * m pairs. TTLs follow the rules the live scripts apply (lua/usage.lua).
 */
export function seedBucketArgs(plan: SeedWrite, now: number): string[] {
  const pairs = usagePairs(plan);
  const lastActive = Math.max(now, ...plan.active.map(([, until]) => until));
  return [
    plan.field,
    plan.bucket.counting.mode,
    usageTtl(plan, now),
    String(lastActive - now + TTL_MARGIN_MS),
    String(pairs.length),
    ...pairs.flat(),
    String(plan.active.length),
    ...plan.active.flatMap(([session, until]) => [encodeId(session), String(until)]),
  ];
}

/** Log members are unique per seed (`k<i>`); live entries use `r:`/`s:`/session members. */
function usagePairs(plan: SeedWrite): [string, string][] {
  const c = plan.bucket.counting;
  switch (c.mode) {
    case 'log':
      return plan.events.map((at, i) => [`k${i}`, String(at)]);
    case 'slices':
      return plan.slices.map(([start, amount]) => [String(start), String(amount)]);
    case 'window':
      return plan.counter
        ? [
            ['st', String(plan.counter.start)],
            ['n', String(plan.counter.used)],
          ]
        : [];
    case 'first_use':
      return plan.counter
        ? [
            ['s', String(plan.counter.start)],
            ['n', String(plan.counter.used)],
          ]
        : [];
    case 'concurrency':
      return [];
  }
}

/** '' means no TTL: only a `total` counter (window mode without an end) lives on. */
function usageTtl(plan: SeedWrite, now: number): string {
  const c = plan.bucket.counting;
  const ttl = (ms: number) => String(Math.max(ms, 0) + TTL_MARGIN_MS);
  switch (c.mode) {
    case 'log':
      return ttl(c.lengthMs);
    case 'slices':
      return ttl(c.lengthMs + c.sliceMs);
    case 'window':
      return c.end === null ? '' : ttl(c.end - now);
    case 'first_use':
      return plan.counter ? ttl(plan.counter.start + c.lengthMs - now) : ttl(0);
    case 'concurrency':
      return ttl(0);
  }
}
