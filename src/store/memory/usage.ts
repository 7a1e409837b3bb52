import { sliceStart } from '../../domain/counting.js';
import { firstUseOpen } from '../../domain/first-use.js';
import { rollingStart } from '../../domain/windows.js';
import type { StoreBucket } from '../counter-store.js';
import { LOG_KEEP_MIN, TTL_MARGIN_MS } from '../store-constants.js';
import type { Usage } from './subject-data.js';

/** The same counting rules as src/store/redis/lua/usage.lua, over plain values. */
export interface UsageReading {
  used: number;
  /** first_use: start of the open window, else null. */
  firstUseStart: number | null;
  timeline: { at: number; amount: number }[];
}

/** How many of the oldest entries must leave before `used` drops below the limit (≥ 1, ≤ used). */
export function needed(limit: number, used: number): number {
  return Math.min(used, Math.max(1, Math.floor(used - limit) + 1));
}

export function readUsage(usage: Usage | undefined, bucket: StoreBucket, now: number): UsageReading {
  const c = bucket.counting;
  const none: UsageReading = { used: 0, firstUseStart: null, timeline: [] };
  switch (c.mode) {
    case 'log': {
      const from = rollingStart(c, now);
      const events = usage?.mode === 'log' ? usage.events.filter((at) => at >= from) : [];
      const timeline = events.slice(0, needed(bucket.limit, events.length)).map((at) => ({ at, amount: 1 }));
      return { used: events.length, firstUseStart: null, timeline };
    }
    case 'slices': {
      const timeline =
        usage?.mode === 'slices' ? countingSlices(usage.slices, c.sliceMs, rollingStart(c, now)) : [];
      return { used: timeline.reduce((sum, e) => sum + e.amount, 0), firstUseStart: null, timeline };
    }
    case 'window':
      // A caller on an older window counts the newer one's usage (never under-counts).
      return usage?.mode === 'window' && usage.start >= c.start ? { ...none, used: usage.used } : none;
    case 'first_use':
      return usage?.mode === 'first_use' && firstUseOpen(usage.start, c, now)
        ? { ...none, used: usage.used, firstUseStart: usage.start }
        : none;
    case 'concurrency':
      return none;
  }
}

/** Records usage at `now`; amount 0 only opens a first-use window. Returns the new structure. */
export function addUsage(
  usage: Usage | undefined,
  bucket: StoreBucket,
  amount: number,
  now: number,
): Usage | undefined {
  const c = bucket.counting;
  if (amount === 0 && c.mode !== 'first_use') return usage;
  switch (c.mode) {
    case 'log': {
      const from = rollingStart(c, now);
      const kept = usage?.mode === 'log' ? usage.events.filter((at) => at >= from) : [];
      const events = [...kept, now]
        .sort((a, b) => a - b)
        .slice(-Math.max(Math.ceil(bucket.limit), LOG_KEEP_MIN));
      return { mode: 'log', events, dropAt: now + c.lengthMs + TTL_MARGIN_MS };
    }
    case 'slices': {
      const from = rollingStart(c, now);
      const slices = usage?.mode === 'slices' ? usage.slices : new Map<number, number>();
      for (const start of slices.keys()) if (start + c.sliceMs - 1 < from) slices.delete(start);
      const slice = sliceStart(now, c.sliceMs);
      slices.set(slice, (slices.get(slice) ?? 0) + amount);
      return { mode: 'slices', slices, dropAt: now + c.lengthMs + c.sliceMs + TTL_MARGIN_MS };
    }
    case 'window': {
      const dropAt = c.end === null ? null : c.end + TTL_MARGIN_MS;
      if (usage?.mode === 'window' && usage.start >= c.start) {
        return { ...usage, used: usage.used + amount, dropAt: laterDrop(usage.dropAt, dropAt) };
      }
      return { mode: 'window', start: c.start, used: amount, dropAt };
    }
    case 'first_use':
      if (usage?.mode === 'first_use' && firstUseOpen(usage.start, c, now)) {
        return { ...usage, used: usage.used + amount };
      }
      return { mode: 'first_use', start: now, used: amount, dropAt: now + c.lengthMs + TTL_MARGIN_MS };
    case 'concurrency':
      return usage;
  }
}

/** null (no expiry) wins, as PERSIST does for `total` counters. */
const laterDrop = (a: number | null, b: number | null) => (a === null || b === null ? null : Math.max(a, b));

/** Whether a structure can be dropped: nothing in it can count at `now` or later. */
export const usageExpired = (usage: Usage, now: number) => usage.dropAt !== null && now >= usage.dropAt;

function countingSlices(slices: Map<number, number>, sliceMs: number, from: number) {
  return [...slices.entries()]
    .filter(([start]) => start + sliceMs - 1 >= from)
    .sort((a, b) => a[0] - b[0])
    .map(([at, amount]) => ({ at, amount }));
}
