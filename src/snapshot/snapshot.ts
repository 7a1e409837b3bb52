import { buildModelIndex, type ModelMatch } from '../domain/model-patterns.js';
import type {
  BoostRecord,
  BucketSubjectType,
  LimitRecord,
  LimitSubjectType,
  ResetMarkerRecord,
} from '../domain/types.js';

/**
 * An immutable, in-memory view of all config. The data plane reads it with no I/O; a
 * reload builds a new one and swaps the reference, so a decision never sees half a reload.
 */
export interface ModelGroupRef {
  id: number;
  name: string;
}

export interface UserGroupRef {
  id: number;
  name: string;
}

export interface ConfigSnapshot {
  readonly version: number;
  /** Epoch ms when this snapshot was built. */
  readonly loadedAt: number;
  /** By exact id, else by the longest pattern (SPEC §9.4). */
  modelGroupOf(model: string): ModelGroupRef | null;
  /** The group and the entry of it that matched, or null. */
  resolveModel(model: string): ModelMatch<ModelGroupRef> | null;
  modelGroup(id: number): ModelGroupRef | null;
  /** Stored memberships of a user (group ids, ascending). */
  userGroupsOf(userId: string): readonly number[];
  userGroupByName(name: string): UserGroupRef | null;
  userGroup(id: number): UserGroupRef | null;
  limitsOf(subjectType: LimitSubjectType, subjectId: string): readonly LimitRecord[];
  boostsOf(subjectType: BucketSubjectType, subjectId: string): readonly BoostRecord[];
  /** Latest reset marker (epoch ms) of one bucket, or null. */
  resetMarkerOf(
    subjectType: BucketSubjectType,
    subjectId: string,
    modelGroupId: number | null,
    metric: string,
    slot: string,
  ): number | null;
}

export interface SnapshotRows {
  version: number;
  modelGroups: ModelGroupRef[];
  modelMembers: { model: string; modelGroupId: number }[];
  userGroups: UserGroupRef[];
  userMembers: { userGroupId: number; userId: string }[];
  limits: LimitRecord[];
  boosts: BoostRecord[];
  resetMarkers: ResetMarkerRecord[];
}

/**
 * Resolutions kept per snapshot. Gateways send few distinct models, but model names come
 * from requests: past this many the cache starts over (a miss costs one index lookup).
 */
export const MAX_MODEL_RESOLUTIONS = 10_000;

const subjectKey = (type: string, id: string) => `${type}\u0000${id}`;
const markerKey = (type: string, id: string, group: number | null, metric: string, slot: string) =>
  [type, id, group ?? '*', metric, slot].join('\u0000');

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = map.get(k);
    if (list) list.push(item);
    else map.set(k, [item]);
  }
  return map;
}

export function buildSnapshot(rows: SnapshotRows, loadedAt: number): ConfigSnapshot {
  const groupsById = new Map(rows.modelGroups.map((g) => [g.id, Object.freeze({ ...g })]));
  const resolveModel = modelResolver(rows.modelMembers, groupsById);
  const userGroupsByName = new Map(rows.userGroups.map((g) => [g.name, Object.freeze({ ...g })]));
  const userGroupsById = new Map([...userGroupsByName.values()].map((g) => [g.id, g]));
  const membership = new Map<string, number[]>();
  for (const [userId, list] of groupBy(rows.userMembers, (m) => m.userId)) {
    membership.set(
      userId,
      list.map((m) => m.userGroupId).sort((a, b) => a - b),
    );
  }
  const limits = groupBy(rows.limits, (l) => subjectKey(l.subjectType, l.subjectId));
  const boosts = groupBy(rows.boosts, (b) => subjectKey(b.subjectType, b.subjectId));
  const markers = new Map<string, number>();
  for (const r of rows.resetMarkers) {
    const k = markerKey(r.subjectType, r.subjectId, r.modelGroupId, r.metric, r.slot);
    markers.set(k, Math.max(markers.get(k) ?? -Infinity, r.resetAt));
  }
  const none: readonly never[] = Object.freeze([]);
  return Object.freeze({
    version: rows.version,
    loadedAt,
    modelGroupOf: (model: string) => resolveModel(model)?.group ?? null,
    resolveModel,
    modelGroup: (id: number) => groupsById.get(id) ?? null,
    userGroupsOf: (userId: string) => membership.get(userId) ?? none,
    userGroupByName: (name: string) => userGroupsByName.get(name) ?? null,
    userGroup: (id: number) => userGroupsById.get(id) ?? null,
    limitsOf: (type: LimitSubjectType, id: string) => limits.get(subjectKey(type, id)) ?? none,
    boostsOf: (type: BucketSubjectType, id: string) => boosts.get(subjectKey(type, id)) ?? none,
    resetMarkerOf: (
      type: BucketSubjectType,
      id: string,
      group: number | null,
      metric: string,
      slot: string,
    ) => markers.get(markerKey(type, id, group, metric, slot)) ?? null,
  });
}

type Resolution = ModelMatch<ModelGroupRef> | null;

function modelResolver(
  members: SnapshotRows['modelMembers'],
  groupsById: ReadonlyMap<number, ModelGroupRef>,
): (model: string) => Resolution {
  const index = buildModelIndex(
    members.flatMap((m): [string, ModelGroupRef][] => {
      const group = groupsById.get(m.modelGroupId);
      return group ? [[m.model, group]] : [];
    }),
  );
  const cache = new Map<string, Resolution>();
  return (model) => {
    let found = cache.get(model);
    if (found === undefined) {
      found = index.resolve(model);
      if (found) found = Object.freeze(found);
      if (cache.size >= MAX_MODEL_RESOLUTIONS) cache.clear();
      cache.set(model, found);
    }
    return found;
  };
}

export const emptySnapshot = (loadedAt = 0): ConfigSnapshot =>
  buildSnapshot(
    {
      version: -1,
      modelGroups: [],
      modelMembers: [],
      userGroups: [],
      userMembers: [],
      limits: [],
      boosts: [],
      resetMarkers: [],
    },
    loadedAt,
  );
