import { isEmpty, type SubjectData } from './subject-data.js';
import { usageExpired } from './usage.js';

/**
 * Drops everything that can no longer count at `now`, as Redis TTLs would. Lapsed warm flags
 * take their usage along: a cold bucket's usage is replaced by the next seed anyway.
 * Returns whether the subject is empty (and can be forgotten).
 */
export function pruneSubject(data: SubjectData, now: number): boolean {
  expireWarmth(data, now);
  for (const [field, usage] of data.usage) if (usageExpired(usage, now)) data.usage.delete(field);
  pruneNested(data.active, (until) => until > now);
  pruneNested(data.holds, (hold) => hold.expiresAt > now);
  pruneNested(data.slots, (expiresAt) => expiresAt > now);
  for (const [id, stored] of data.records) if (stored.dropAt <= now) data.records.delete(id);
  for (const [id, markers] of data.applied) if (markers.dropAt <= now) data.applied.delete(id);
  return isEmpty(data);
}

function expireWarmth(data: SubjectData, now: number): void {
  if (data.warm.size === 0 || data.warmUntil > now) return;
  data.warm.clear();
  data.usage.clear();
  data.active.clear();
}

function pruneNested<V>(maps: Map<string, Map<string, V>>, live: (value: V) => boolean): void {
  for (const [key, map] of maps) {
    for (const [id, value] of map) if (!live(value)) map.delete(id);
    if (map.size === 0) maps.delete(key);
  }
}
