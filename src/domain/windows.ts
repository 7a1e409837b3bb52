import { calendarPeriod, parseResetTime, type CalendarUnit } from './calendar.js';
import { firstUseStartAt } from './first-use.js';
import type { LimitRecord, Reset } from './types.js';
import { CONCURRENCY_SLOT, parseWindow } from './window-spec.js';

/**
 * How a bucket's window moves. `total` never resets; `none` is concurrency, which counts
 * what is held now and has no window at all.
 */
export type WindowKind = Reset | 'total' | 'none';

/** Everything needed to place a bucket's window in time; taken from the merge winner. */
export interface WindowDef {
  /** Canonical slot (`5h`, `daily`, `monthly`, `total`, `concurrent`). */
  slot: string;
  kind: WindowKind;
  /** Nominal length; null for `monthly` (months vary), `total` and `none`. */
  lengthMs: number | null;
  /** `fixed` windows start at anchor + k·length (epoch ms; 0 when unset). */
  anchor: number;
  /** IANA zone of `calendar` boundaries (already defaulted). */
  timezone: string;
  /** `HH:MM` of `calendar` boundaries (already defaulted). */
  resetTime: string;
}

/**
 * The current window: usage at `t` counts iff `start ≤ t` (and t ≤ now). `end` is the next
 * reset (exclusive), or null when the window never resets (`total`) or slides (`rolling`).
 * A rolling window is (now − length, now], so its inclusive start is now − length + 1 ms.
 */
export interface WindowRange {
  start: number;
  end: number | null;
}

export interface WindowContext {
  /** `first_use`: the stored start of the latest window, or null if none was ever opened. */
  firstUseStart?: number | null;
  /** Latest reset marker of the bucket: usage before it does not count. */
  resetMarker?: number | null;
}

export const DEFAULT_RESET_TIME = '00:00';
export const CONCURRENCY_WINDOW: WindowDef = {
  slot: CONCURRENCY_SLOT,
  kind: 'none',
  lengthMs: null,
  anchor: 0,
  timezone: 'UTC',
  resetTime: DEFAULT_RESET_TIME,
};

/** The window a limit defines; a reset the window does not allow falls back to its default. */
export function windowDefOf(limit: LimitRecord, defaultTimezone: string): WindowDef {
  if (limit.metric === 'concurrency') return CONCURRENCY_WINDOW;
  const parsed = parseWindow(limit.slot);
  if (!parsed.ok) throw new Error(`limit ${limit.id} has an unknown slot ${limit.slot}`);
  const { spec } = parsed;
  const reset = limit.reset && spec.allowedResets.includes(limit.reset) ? limit.reset : spec.defaultReset;
  return {
    slot: spec.slot,
    kind: reset ?? 'total',
    lengthMs: spec.seconds === null ? null : spec.seconds * 1000,
    anchor: limit.anchor ?? 0,
    timezone: limit.timezone ?? defaultTimezone,
    resetTime: limit.resetTime ?? DEFAULT_RESET_TIME,
  };
}

export function currentWindow(def: WindowDef, now: number, context: WindowContext = {}): WindowRange {
  const marker = context.resetMarker ?? null;
  const range = rawWindow(def, now, context.firstUseStart ?? null, marker);
  return marker === null || marker <= range.start ? range : { start: marker, end: range.end };
}

function rawWindow(
  def: WindowDef,
  now: number,
  firstUseStart: number | null,
  marker: number | null,
): WindowRange {
  const length = def.lengthMs ?? 0;
  switch (def.kind) {
    case 'total':
    case 'none':
      return { start: -Infinity, end: null };
    case 'rolling':
      return { start: rollingStart({ lengthMs: length, floor: -Infinity }, now), end: null };
    case 'fixed': {
      const start = def.anchor + Math.floor((now - def.anchor) / length) * length;
      return { start, end: start + length };
    }
    case 'calendar':
      return calendarPeriod(def.slot as CalendarUnit, now, def.timezone, parseResetTime(def.resetTime));
    case 'first_use': {
      const start = firstUseStartAt(firstUseStart, { lengthMs: length, floor: marker ?? -Infinity }, now);
      return { start, end: start + length };
    }
  }
}

/**
 * Inclusive start of a rolling window (now − length, now], raised to the reset marker
 * (`floor`). Restated in src/store/redis/lua/usage.lua (rolling_start), held to this one by
 * test/store/suites/window-rules.ts.
 */
export function rollingStart(window: { lengthMs: number; floor: number }, now: number): number {
  return Math.max(now - window.lengthMs + 1, window.floor);
}

export function windowContains(range: WindowRange, at: number): boolean {
  return at >= range.start && (range.end === null || at < range.end);
}
