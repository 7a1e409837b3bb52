import {
  bucketsAt,
  planBuckets,
  type BucketPlan,
  type BucketRequest,
  type ResolveOptions,
  type ResolvedBuckets,
} from '../domain/buckets.js';
import type { ConfigSnapshot } from '../snapshot/snapshot.js';

/**
 * Plans kept per snapshot. Each distinct (user, key, groups, model) of the snapshot's life
 * takes one; past this many the map starts over (a miss only costs one planBuckets).
 */
export const MAX_PLANS_PER_SNAPSHOT = 10_000;

/**
 * resolveBuckets with the config-only half remembered: a plan belongs to the snapshot it
 * was made from, so a reload (a new snapshot object) can never serve an old plan, and the
 * time-dependent half (windows, boosts) still runs on every call.
 */
export type BucketResolver = (request: BucketRequest, now: number) => ResolvedBuckets;

export function createBucketResolver(
  snapshot: () => ConfigSnapshot,
  options: ResolveOptions,
  maxPlans = MAX_PLANS_PER_SNAPSHOT,
): BucketResolver {
  let planned: { snapshot: ConfigSnapshot; plans: Map<string, BucketPlan> } | null = null;

  return (request: BucketRequest, now: number): ResolvedBuckets => {
    const current = snapshot();
    if (planned?.snapshot !== current) planned = { snapshot: current, plans: new Map() };
    const key = planKey(request);
    let plan = planned.plans.get(key);
    if (plan === undefined) {
      plan = planBuckets(current, request, options);
      if (planned.plans.size >= maxPlans) planned.plans.clear();
      planned.plans.set(key, plan);
    }
    return bucketsAt(plan, now);
  };
}

/** Each part length-prefixed, so no content of one can pass for another (null ≠ ''). */
function planKey(r: BucketRequest): string {
  let key = part(r.userId) + part(r.keyId) + part(r.model);
  for (const group of r.groups ?? []) key += part(group);
  return key;
}

const part = (s: string | null | undefined) => (s === undefined || s === null ? '-|' : `${s.length}|${s}`);
