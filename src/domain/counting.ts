import type { Metric } from './types.js';
import { rollingStart, type WindowDef, type WindowRange } from './windows.js';

/**
 * How a store keeps one bucket's counter (SPEC §4.1). Structurally the `Counting` of the
 * counter-store port (src/store/counter-store.ts), so a bucket drives either store as is;
 * `floor` is the latest reset marker (0 if none): usage before it does not count.
 * - `log`: exact sliding log (rolling `requests`/`sessions`, effective cap ≤ 1000); retry
 *   times exact to the millisecond.
 * - `slices`: other rolling windows, summed per epoch-aligned slice of at most length/60.
 *   A slice counts in full while any instant of it is inside the window, so the sum never
 *   under-counts: the bucket may refuse early by at most one slice, never over-admit.
 * - `window`: one counter per window start (`fixed`, `calendar`, `total`).
 * - `first_use`: the store keeps the window start (the rule: first-use.ts).
 * - `concurrency`: the reservations held now.
 */
export type Counting =
  /**
   * `def` names the window definition (kind, anchor, zone, reset time, marker): a changed
   * definition counts in fresh storage rebuilt from the ledger, never in the old counter.
   */
  | { mode: 'window'; start: number; end: number | null; def?: string }
  | { mode: 'first_use'; lengthMs: number; floor: number }
  | { mode: 'slices'; lengthMs: number; sliceMs: number; floor: number }
  | { mode: 'log'; lengthMs: number; floor: number }
  | { mode: 'concurrency' };

export type CountingMode = Counting['mode'];

export const EXACT_LOG_MAX_CAP = 1000;

export function countingOf(
  metric: Metric,
  window: WindowDef,
  range: WindowRange,
  resetMarker: number | null,
  effectiveLimit: number,
  /** windowDefId(window, floor), when the caller has it already. */
  defId?: string,
): Counting {
  const floor = resetMarker ?? 0;
  const lengthMs = window.lengthMs ?? 0;
  if (metric === 'concurrency' || window.kind === 'none') return { mode: 'concurrency' };
  if (window.kind === 'first_use') return { mode: 'first_use', lengthMs, floor };
  if (window.kind !== 'rolling') {
    // A total window without a marker starts at the epoch: no usage is older.
    const start = Number.isFinite(range.start) ? range.start : floor;
    return { mode: 'window', start, end: range.end, def: defId ?? windowDefId(window, floor) };
  }
  const exact = (metric === 'requests' || metric === 'sessions') && effectiveLimit <= EXACT_LOG_MAX_CAP;
  return exact
    ? { mode: 'log', lengthMs, floor }
    : { mode: 'slices', lengthMs, sliceMs: sliceLengthMs(lengthMs), floor };
}

/**
 * A short stable name of what places a window in time: two definitions that can put a
 * boundary in different places never share one (SPEC §4.6: editing a limit's anchor, time
 * zone, reset time or window kind never forgets usage). FNV-1a, base36: storage keys only.
 */
export function windowDefId(window: WindowDef, floor: number): string {
  const placement =
    window.kind === 'fixed'
      ? [window.anchor]
      : window.kind === 'calendar'
        ? [window.timezone, window.resetTime]
        : [];
  const text = [window.kind, window.slot, window.lengthMs, ...placement, floor].join('|');
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(36);
}

/**
 * The window a store reports a bucket's state for: the counter's window, a rolling
 * window's inclusive start, or first_use's open window (`firstUseStart`, null if none).
 */
export function countingWindow(
  counting: Counting,
  now: number,
  firstUseStart: number | null,
): { windowStart: number | null; windowEnd: number | null } {
  switch (counting.mode) {
    case 'window':
      return { windowStart: counting.start, windowEnd: counting.end };
    case 'first_use':
      return firstUseStart === null
        ? { windowStart: null, windowEnd: null }
        : { windowStart: firstUseStart, windowEnd: firstUseStart + counting.lengthMs };
    case 'log':
    case 'slices':
      return { windowStart: rollingStart(counting, now), windowEnd: null };
    case 'concurrency':
      return { windowStart: null, windowEnd: null };
  }
}

/** length/60 rounded down to whole seconds (windows ≥ 60 s), else to whole ms: ≤ length/60. */
export function sliceLengthMs(lengthMs: number): number {
  const raw = Math.floor(lengthMs / 60);
  return raw >= 1000 ? raw - (raw % 1000) : Math.max(1, raw);
}

/** Slices are aligned on the epoch, so every instance and store agrees on them. */
export function sliceStart(at: number, sliceMs: number): number {
  return at - (((at % sliceMs) + sliceMs) % sliceMs);
}

/** How much time one timeline entry covers: a slice, or 1 ms for a log event. */
export function entryWidthMs(counting: Counting): number {
  return counting.mode === 'slices' ? counting.sliceMs : 1;
}

/** The first instant at which an entry (event, or slice starting at `at`) no longer counts. */
export function leavesAt(at: number, widthMs: number, lengthMs: number): number {
  return at + widthMs - 1 + lengthMs;
}

/** Whether an entry still counts in a window whose inclusive start is `windowStart`. */
export function entryCounts(at: number, widthMs: number, windowStart: number): boolean {
  return at + widthMs - 1 >= windowStart;
}
