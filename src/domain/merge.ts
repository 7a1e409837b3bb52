import type { BucketSubjectType, LimitRecord, Metric } from './types.js';

/**
 * SPEC §3: per (axis, scope, metric, slot) the largest cap wins; at equal caps the user's
 * own limit beats any group, and between groups the smallest group id wins. The winner
 * alone defines the bucket's window.
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

function beats(a: LimitRecord, b: LimitRecord): boolean {
  if (a.cap !== b.cap) return a.cap > b.cap;
  return precedence(a) < precedence(b);
}

/** Lower wins: the subject's own limit (user or key), then groups by ascending id. */
function precedence(limit: LimitRecord): number {
  if (limit.subjectType !== 'user_group') return -1;
  const id = Number(limit.subjectId);
  return Number.isSafeInteger(id) ? id : Number.MAX_SAFE_INTEGER;
}
