import type { BucketSubjectType, LimitRecord, Metric } from './types.js';

/**
 * SPEC §3: per (axis, scope, metric, slot) the largest cap wins; at equal caps the user's
 * own limit beats any group, groups go by ascending id, and a default (`everyone`) limit
 * comes last. A user's own limit with `override` is not merged: it wins whatever the others
 * say, lower or higher (§9.3). The winner alone defines the bucket's window.
 */
export interface MergedLimit {
  axis: BucketSubjectType;
  modelGroupId: number | null;
  metric: Metric;
  slot: string;
  winner: LimitRecord;
}

export function mergeLimits(axis: BucketSubjectType, candidates: readonly LimitRecord[]): MergedLimit[] {
  const merged = new Map<string, MergedLimit>();
  for (const limit of candidates) {
    const natural = `${limit.modelGroupId ?? '*'}|${limit.metric}|${limit.slot}`;
    const current = merged.get(natural);
    if (!current || beats(limit, current.winner)) {
      merged.set(natural, {
        axis,
        modelGroupId: limit.modelGroupId,
        metric: limit.metric,
        slot: limit.slot,
        winner: limit,
      });
    }
  }
  return [...merged.values()];
}

/** Whether the limit sets its bucket's cap outright (only a user's own limit can). */
export const overrides = (limit: LimitRecord): boolean => limit.override && limit.subjectType === 'user';

function beats(a: LimitRecord, b: LimitRecord): boolean {
  if (overrides(a) !== overrides(b)) return overrides(a);
  if (a.cap !== b.cap) return a.cap > b.cap;
  return precedence(a) < precedence(b);
}

/** Lower wins: the subject's own limit (user or key), then groups by ascending id, then `everyone`. */
function precedence(limit: LimitRecord): number {
  switch (limit.subjectType) {
    case 'user':
    case 'key':
      return -1;
    case 'everyone':
      return Infinity;
    case 'user_group': {
      const id = Number(limit.subjectId);
      return Number.isSafeInteger(id) ? id : Number.MAX_SAFE_INTEGER;
    }
  }
}
