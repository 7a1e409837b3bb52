import { buildSnapshot, type ConfigSnapshot, type SnapshotRows } from '../../src/snapshot/snapshot.js';
import type { Bucket } from '../../src/domain/buckets.js';
import { countingOf } from '../../src/domain/counting.js';
import type { BoostRecord, LimitRecord } from '../../src/domain/types.js';
import { currentWindow, type WindowDef } from '../../src/domain/windows.js';

export const ms = (iso: string) => Date.parse(iso);
export const USD = 1_000_000;

let nextId = 100;

export function limit(fields: Partial<LimitRecord> & Pick<LimitRecord, 'metric' | 'cap'>): LimitRecord {
  const window =
    fields.window === undefined ? (fields.metric === 'concurrency' ? null : '5h') : fields.window;
  return {
    id: nextId++,
    subjectType: 'user',
    subjectId: 'u-42',
    modelGroupId: null,
    slot: fields.slot ?? (fields.metric === 'concurrency' ? 'concurrent' : (window ?? '5h')),
    reset: null,
    anchor: null,
    timezone: null,
    resetTime: null,
    mode: 'enforce',
    alertAt: [],
    override: false,
    ...fields,
    window,
  };
}

export function boost(
  fields: Partial<BoostRecord> & Pick<BoostRecord, 'amount' | 'startsAt' | 'expiresAt'>,
): BoostRecord {
  return {
    id: nextId++,
    subjectType: 'user',
    subjectId: 'u-42',
    modelGroupId: null,
    metric: 'cost',
    window: '5h',
    slot: '5h',
    ...fields,
  };
}

/** Model group 3 "opus" (claude-opus-4-1), group 4 "glm"; user groups 2 "team", 7 "pro", 9 "vip"; u-42 ∈ 7. */
export function snapshot(rows: Partial<SnapshotRows> = {}): ConfigSnapshot {
  return buildSnapshot(
    {
      version: 1,
      modelGroups: [
        { id: 3, name: 'opus' },
        { id: 4, name: 'glm' },
      ],
      modelMembers: [
        { model: 'claude-opus-4-1', modelGroupId: 3 },
        { model: 'z-ai/glm-5.1', modelGroupId: 4 },
      ],
      userGroups: [
        { id: 2, name: 'team' },
        { id: 7, name: 'pro' },
        { id: 9, name: 'vip' },
      ],
      userMembers: [{ userGroupId: 7, userId: 'u-42' }],
      limits: [],
      boosts: [],
      resetMarkers: [],
      ...rows,
    },
    0,
  );
}

const WINDOWS: Record<string, Pick<WindowDef, 'slot' | 'lengthMs'>> = {
  '1m': { slot: '1m', lengthMs: 60_000 },
  '5h': { slot: '5h', lengthMs: 18_000_000 },
  daily: { slot: 'daily', lengthMs: 86_400_000 },
  total: { slot: 'total', lengthMs: null },
  concurrent: { slot: 'concurrent', lengthMs: null },
};

/** A hand-made bucket for admission, retry and response tests. */
export function bucket(
  fields: Partial<Bucket> & { slot?: string; kind?: WindowDef['kind']; now?: number } = {},
): Bucket {
  const { slot = '5h', kind = 'rolling', now = ms('2027-01-04T12:00:00Z'), ...rest } = fields;
  const metric = rest.metric ?? 'cost';
  const window: WindowDef = {
    ...(WINDOWS[slot] ?? { slot, lengthMs: null }),
    kind: metric === 'concurrency' ? 'none' : kind,
    anchor: 0,
    timezone: 'UTC',
    resetTime: '00:00',
  };
  const limitValue = rest.limit ?? 10 * USD;
  const boostValue = rest.boost ?? 0;
  const effectiveLimit = rest.effectiveLimit ?? limitValue + boostValue;
  const range = currentWindow(window, now);
  return {
    key: `user:u-42|g3|${metric}|${window.slot}`,
    axis: 'user',
    ownerId: 'u-42',
    modelGroupId: 3,
    modelGroupName: 'opus',
    metric,
    window,
    range,
    resetMarker: null,
    limit: limitValue,
    boost: boostValue,
    effectiveLimit,
    counting: countingOf(metric, window, range, null, effectiveLimit),
    source: { subjectType: 'user', subjectId: 'u-42', limitId: 1 },
    sourceGroupName: null,
    shadow: false,
    alertAt: [],
    ...rest,
  };
}
