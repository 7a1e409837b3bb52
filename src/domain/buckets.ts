import type { ConfigSnapshot, ModelGroupRef } from '../snapshot/snapshot.js';
import { bucketKey } from './bucket-key.js';
import { countingOf, windowDefId, type Counting } from './counting.js';
import { mergeLimits, overrides, type MergedLimit } from './merge.js';
import {
  EVERYONE_SUBJECT_ID,
  METRICS,
  type BoostRecord,
  type BucketSubjectType,
  type LimitRecord,
  type LimitSubjectType,
  type Metric,
} from './types.js';
import { currentWindow, windowDefOf, type WindowDef, type WindowRange } from './windows.js';

/** The limit that supplied a bucket's cap and window (the merge winner). */
export interface BucketSource {
  subjectType: LimitSubjectType;
  subjectId: string;
  limitId: number;
}

/** One counter a decision checks: everything a store needs to count it and a response to show it. */
export interface Bucket {
  key: string;
  axis: BucketSubjectType;
  ownerId: string;
  modelGroupId: number | null;
  modelGroupName: string | null;
  metric: Metric;
  window: WindowDef;
  /**
   * The window at resolution time, reset marker applied. For `first_use` it assumes no
   * window is open; a store holding the stored start recomputes it with `currentWindow`.
   */
  range: WindowRange;
  resetMarker: number | null;
  /** Merged cap (µ$ for cost, else a count), boosts excluded. */
  limit: number;
  /** Sum of the boosts active at resolution time. */
  boost: number;
  effectiveLimit: number;
  counting: Counting;
  source: BucketSource;
  /** The user group's name when the winner is a user-group limit (for the refusal reason), else null. */
  sourceGroupName: string | null;
  /**
   * SPEC §9.3: the winner is the user's override (for the refusal reason). Optional: buckets
   * frozen in reservations written before overrides existed do not carry it.
   */
  sourceOverride?: boolean;
  /** SPEC §4.8: evaluated and charged, never refusing (the winner's mode, or SHADOW_MODE). */
  shadow: boolean;
  /** SPEC §5.1: the winner's alert thresholds, ascending fractions of the effective limit. */
  alertAt: number[];
}

export interface BucketRequest {
  userId: string;
  keyId?: string | null;
  /** Extra user-group names the gateway vouches for; unknown names are ignored. */
  groups?: readonly string[] | null;
  /** Absent for `/usage` without a model: every scope is listed and no cost split applies. */
  model?: string | null;
}

export interface ResolveOptions {
  defaultTimezone: string;
  /** SHADOW_MODE: every bucket is a shadow bucket. */
  shadowMode?: boolean;
}

export interface ResolvedBuckets {
  modelGroup: ModelGroupRef | null;
  buckets: Bucket[];
  /** Whether the spend is charged to an "all models" cost bucket of the axis (SPEC §2.5). */
  countedInUserGlobal: boolean;
  countedInKeyGlobal: boolean;
}

interface Axis {
  axis: BucketSubjectType;
  ownerId: string;
  candidates: readonly LimitRecord[];
}

export function resolveBuckets(
  snapshot: ConfigSnapshot,
  request: BucketRequest,
  now: number,
  options: ResolveOptions,
): ResolvedBuckets {
  return bucketsAt(planBuckets(snapshot, request, options), now);
}

/**
 * One bucket of a plan: everything about it that the config alone decides. Its window's
 * place in time and its boost are decided per request (bucketsAt).
 */
interface PlannedBucket {
  merged: MergedLimit;
  ownerId: string;
  key: string;
  modelGroupName: string | null;
  window: WindowDef;
  resetMarker: number | null;
  /** windowDefId(window, reset marker), computed once; only `window`-mode counting reads it. */
  defId: string;
  /** The owner's boosts of this bucket, active or not: judged at each request's `now`. */
  boosts: readonly BoostRecord[];
  source: BucketSource;
  sourceGroupName: string | null;
  sourceOverride: boolean;
  shadow: boolean;
}

/**
 * The part of a resolution that depends on the snapshot and the request only, never on
 * time: which limits win, in which order, with which windows. A snapshot never changes, so
 * a plan can be kept for as long as the snapshot it came from (decisions/bucket-resolver.ts does).
 */
export interface BucketPlan {
  modelGroup: ModelGroupRef | null;
  buckets: readonly PlannedBucket[];
  countedInUserGlobal: boolean;
  countedInKeyGlobal: boolean;
}

export function planBuckets(
  snapshot: ConfigSnapshot,
  request: BucketRequest,
  options: ResolveOptions,
): BucketPlan {
  const anyScope = request.model === undefined || request.model === null;
  const group = anyScope ? null : snapshot.modelGroupOf(request.model as string);
  const inScope = (l: LimitRecord) => anyScope || l.modelGroupId === null || l.modelGroupId === group?.id;
  const counted = { user: false, key: false };
  const buckets: PlannedBucket[] = [];
  for (const { axis, ownerId, candidates } of axesOf(snapshot, request)) {
    let merged = mergeLimits(axis, candidates.filter(inScope));
    if (group && merged.some((m) => m.metric === 'cost' && m.modelGroupId === group.id)) {
      merged = merged.filter((m) => !(m.metric === 'cost' && m.modelGroupId === null));
    }
    counted[axis] = !anyScope && merged.some((m) => m.metric === 'cost' && m.modelGroupId === null);
    buckets.push(...merged.map((m) => planBucket(snapshot, m, ownerId, options)));
  }
  return {
    modelGroup: group,
    buckets: Object.freeze(buckets.sort(bucketOrder)),
    countedInUserGlobal: counted.user,
    countedInKeyGlobal: counted.key,
  };
}

/** The plan's buckets at `now`: each window placed in time, each boost judged. */
export function bucketsAt(plan: BucketPlan, now: number): ResolvedBuckets {
  return {
    modelGroup: plan.modelGroup,
    buckets: plan.buckets.map((p) => toBucket(p, now)),
    countedInUserGlobal: plan.countedInUserGlobal,
    countedInKeyGlobal: plan.countedInKeyGlobal,
  };
}

function axesOf(snapshot: ConfigSnapshot, request: BucketRequest): Axis[] {
  const groupIds = new Set(snapshot.userGroupsOf(request.userId));
  for (const name of request.groups ?? []) {
    const named = snapshot.userGroupByName(name);
    if (named) groupIds.add(named.id);
  }
  // Non-shared `everyone` limits are every user's default cap, merged like a group's (SPEC §9.1).
  const userCandidates = [
    ...snapshot.limitsOf('user', request.userId),
    ...[...groupIds].flatMap((id) => snapshot.limitsOf('user_group', String(id))),
    ...snapshot.limitsOf('everyone', EVERYONE_SUBJECT_ID),
  ];
  const axes: Axis[] = [{ axis: 'user', ownerId: request.userId, candidates: userCandidates }];
  if (request.keyId) {
    axes.push({ axis: 'key', ownerId: request.keyId, candidates: snapshot.limitsOf('key', request.keyId) });
  }
  return axes;
}

function planBucket(
  snapshot: ConfigSnapshot,
  merged: MergedLimit,
  ownerId: string,
  options: ResolveOptions,
): PlannedBucket {
  const { axis, modelGroupId, metric, slot, winner } = merged;
  const window = Object.freeze(windowDefOf(winner, options.defaultTimezone));
  const resetMarker = snapshot.resetMarkerOf(axis, ownerId, modelGroupId, metric, slot);
  return Object.freeze({
    merged,
    ownerId,
    key: bucketKey(axis, ownerId, modelGroupId, metric, slot),
    modelGroupName: modelGroupId === null ? null : (snapshot.modelGroup(modelGroupId)?.name ?? null),
    window,
    resetMarker,
    defId: windowDefId(window, resetMarker ?? 0),
    boosts: snapshot
      .boostsOf(axis, ownerId)
      .filter((b) => b.modelGroupId === modelGroupId && b.metric === metric && b.slot === slot),
    source: Object.freeze({
      subjectType: winner.subjectType,
      subjectId: winner.subjectId,
      limitId: winner.id,
    }),
    sourceGroupName:
      winner.subjectType === 'user_group'
        ? (snapshot.userGroup(Number(winner.subjectId))?.name ?? null)
        : null,
    sourceOverride: overrides(winner),
    shadow: options.shadowMode === true || winner.mode === 'shadow',
  });
}

function toBucket(planned: PlannedBucket, now: number): Bucket {
  const { merged, window, resetMarker } = planned;
  const { winner } = merged;
  const boost = activeBoost(planned.boosts, now);
  const effectiveLimit = winner.cap + boost;
  const range = currentWindow(window, now, { resetMarker });
  return {
    key: planned.key,
    axis: merged.axis,
    ownerId: planned.ownerId,
    modelGroupId: merged.modelGroupId,
    modelGroupName: planned.modelGroupName,
    metric: merged.metric,
    window,
    range,
    resetMarker,
    limit: winner.cap,
    boost,
    effectiveLimit,
    counting: countingOf(merged.metric, window, range, resetMarker, effectiveLimit, planned.defId),
    source: planned.source,
    sourceGroupName: planned.sourceGroupName,
    sourceOverride: planned.sourceOverride,
    shadow: planned.shadow,
    alertAt: winner.alertAt,
  };
}

/** Boosts are judged at `now`, to the millisecond: active while startsAt ≤ now < expiresAt. */
function activeBoost(boosts: readonly BoostRecord[], now: number): number {
  let sum = 0;
  for (const b of boosts) if (b.startsAt <= now && now < b.expiresAt) sum += b.amount;
  return sum;
}

/** User axis first, group scope before all models, then metric, then shorter windows. */
function bucketOrder(a: PlannedBucket, b: PlannedBucket): number {
  return (
    rank(a.merged.axis === 'user', b.merged.axis === 'user') ||
    rank(a.merged.modelGroupId !== null, b.merged.modelGroupId !== null) ||
    METRICS.indexOf(a.merged.metric) - METRICS.indexOf(b.merged.metric) ||
    windowWeight(a.window) - windowWeight(b.window) ||
    (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  );
}

const rank = (a: boolean, b: boolean) => Number(b) - Number(a);

function windowWeight(window: WindowDef): number {
  if (window.lengthMs !== null) return window.lengthMs;
  return window.kind === 'total' ? Infinity : 31 * 86_400_000;
}
