import { parseBucketKey } from '../domain/bucket-key.js';
import { parseWindow } from '../domain/window-spec.js';

/**
 * Pure slice arithmetic for ledger rollups: which rollup rows (minute / hour / day) and which
 * raw tail cover a rebuild range [from, now). No I/O. A slice straddling `from` is counted
 * whole, so a rebuild from rollups may over-count (refuse early) but never under-counts.
 */
export const SLICE_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
export type SliceLevel = keyof typeof SLICE_MS;

export interface SliceRange {
  level: SliceLevel;
  /** Inclusive start, aligned to the level. */
  from: number;
  /** Exclusive end, aligned to the level. */
  to: number;
}

export interface RangeCover {
  slices: SliceRange[];
  /** Raw ledger rows are read from here to now (exact recent edge). */
  rawFrom: number;
}

const LEVELS: SliceLevel[] = ['minute', 'hour', 'day'];
const floorTo = (t: number, step: number) => Math.floor(t / step) * step;

/** Where raw rows take over from rollups: the minute holding max(from, rawAfter). */
export const rawEdge = (from: number, rawAfter: number) => floorTo(Math.max(from, rawAfter), SLICE_MS.minute);

/** The coarsest level whose slice is at most windowMs / 60 (SPEC §4.1); minute at least. */
export function coarsestLevel(windowMs: number): SliceLevel {
  const fitting = LEVELS.filter((l) => SLICE_MS[l] <= windowMs / 60);
  return fitting[fitting.length - 1] ?? 'minute';
}

/**
 * Covers [from, rawAfter) with as few rollup slices as possible (climbing to the coarsest
 * allowed level, then stepping down at the end) and leaves [rawFrom, now) to raw rows.
 */
export function coverRange(from: number, rawAfter: number, maxLevel: SliceLevel): RangeCover {
  const rawFrom = rawEdge(from, rawAfter);
  const levels = LEVELS.slice(0, LEVELS.indexOf(maxLevel) + 1);
  const slices: SliceRange[] = [];
  let cursor = floorTo(from, SLICE_MS.minute);
  const push = (level: SliceLevel, to: number) => {
    if (to > cursor) slices.push({ level, from: cursor, to });
    cursor = Math.max(cursor, to);
  };
  // Climb: fine slices until the cursor is aligned to the next coarser level, whole slices
  // only (a slice reaching past rawFrom would count the raw edge twice).
  for (let i = 0; i < levels.length - 1; i++) {
    const next = SLICE_MS[levels[i + 1]!];
    push(levels[i]!, Math.min(Math.ceil(cursor / next) * next, floorTo(rawFrom, SLICE_MS[levels[i]!])));
  }
  // Descend: the coarsest whole slices that fit, then finer ones up to rawFrom.
  for (let i = levels.length - 1; i >= 0; i--) push(levels[i]!, floorTo(rawFrom, SLICE_MS[levels[i]!]));
  return { slices, rawFrom };
}

/** How many rollup rows a cover reads per bucket (bounded: ≤ 59 + 23 + days + 23 + 59). */
export function sliceRowCount(cover: RangeCover): number {
  return cover.slices.reduce((n, s) => n + (s.to - s.from) / SLICE_MS[s.level], 0);
}

/** A rollup row's level: a time slice, or `all` (one row per bucket since the epoch). */
export type RollupLevel = SliceLevel | 'all';

const EVERY_LEVEL: RollupLevel[] = ['minute', 'hour', 'day', 'all'];

/**
 * The levels a rebuild of the bucket can ever read, from the slot its key ends in (SPEC
 * §4.3), so a settle writes only those. A window of nominal length L never spans a whole
 * slice longer than L, whatever its reset (rolling, fixed, calendar, first use: a reset
 * marker only shortens it), so levels above L are never read; `monthly` reads up to days;
 * `total` reads `all`, and the slices from a reset marker on. A key of no known slot gets
 * every level.
 */
export function rollupLevels(bucketKey: string): RollupLevel[] {
  const slot = parseBucketKey(bucketKey)?.slot;
  if (slot === undefined || slot === 'total') return EVERY_LEVEL;
  if (slot === 'monthly') return ['minute', 'hour', 'day'];
  const parsed = parseWindow(slot);
  const seconds = parsed.ok ? parsed.spec.seconds : null;
  if (seconds === null) return EVERY_LEVEL;
  return LEVELS.filter((l) => SLICE_MS[l] <= Math.max(seconds * 1000, SLICE_MS.minute));
}
