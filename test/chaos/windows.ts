import { DateTime } from 'luxon';

/**
 * The checker's own window arithmetic (SPEC §1 "Window"), written independently of
 * src/domain so a bug there cannot hide in the oracle. Times are epoch ms. Every event the
 * model knows happened at an unknown server instant inside an interval (request sent,
 * response received), and every decision too: membership is therefore "certain" (for every
 * instant of both intervals) or "possible" (for some).
 */

export interface Interval {
  lo: number;
  hi: number;
}

export type WindowModel =
  /** (now − length, now]; `slackMs` is the slice width of a sliced counter (0 for exact logs). */
  | { kind: 'rolling'; lengthMs: number; slackMs: number }
  /** back-to-back windows [anchor + k·length, anchor + (k+1)·length). */
  | { kind: 'fixed'; lengthMs: number; anchor: number }
  /** daily windows starting at resetTime (HH:MM) in timezone. */
  | { kind: 'calendar'; timezone: string; resetTime: string }
  /** opens with the first admitted usage; runs shorter than lengthMs never see it close. */
  | { kind: 'first_use'; lengthMs: number }
  | { kind: 'total' }
  /** concurrency: no window. */
  | { kind: 'none' };

/** [start, end): the window a decision at `now` counts in (end null: never resets). */
export interface Range {
  start: number;
  end: number | null;
}

/** SPEC §4.1: sliced rolling windows use slices of at most length/60. */
export function sliceSlackMs(lengthMs: number): number {
  return Math.ceil(lengthMs / 60);
}

function calendarStart(zone: string, resetTime: string, now: number): DateTime {
  const [h, m] = resetTime.split(':').map(Number);
  const local = DateTime.fromMillis(now, { zone });
  const at = (day: DateTime) => day.set({ hour: h ?? 0, minute: m ?? 0, second: 0, millisecond: 0 });
  let start = at(local);
  if (start.toMillis() > now) start = at(local.minus({ days: 1 }));
  return start;
}

/** The window containing `now` for fixed, calendar and total windows; null for others. */
export function rangeAt(window: WindowModel, now: number): Range | null {
  switch (window.kind) {
    case 'fixed': {
      const k = Math.floor((now - window.anchor) / window.lengthMs);
      const start = window.anchor + k * window.lengthMs;
      return { start, end: start + window.lengthMs };
    }
    case 'calendar': {
      const start = calendarStart(window.timezone, window.resetTime, now);
      const [h, m] = window.resetTime.split(':').map(Number);
      const next = start.plus({ days: 1 }).set({ hour: h ?? 0, minute: m ?? 0, second: 0, millisecond: 0 });
      return { start: start.toMillis(), end: next.toMillis() };
    }
    case 'total':
      return { start: -Infinity, end: null };
    default:
      return null;
  }
}

/**
 * Server instants are the model's local intervals widened by `skewMs` (an instance's clock
 * follows Redis TIME with an error of up to half a measuring round trip). Causality needs
 * no clock: an event of the user always precedes the decisions judged against it.
 */
const widen = (i: Interval, skewMs: number): Interval => ({ lo: i.lo - skewMs, hi: i.hi + skewMs });

/** Whether an event at some instant of `event` counts for every decision instant in `query`. */
export function certainlyIn(window: WindowModel, event: Interval, query: Interval, skewMs = 0): boolean {
  const e = widen(event, skewMs);
  const q = widen(query, skewMs);
  switch (window.kind) {
    case 'rolling':
      // Counted iff e > now − length for every now ≤ q.hi.
      return e.lo > q.hi - window.lengthMs;
    case 'fixed':
    case 'calendar':
    case 'total': {
      const a = rangeAt(window, q.lo);
      const b = rangeAt(window, q.hi);
      if (!a || !b || a.start !== b.start) return false;
      return e.lo >= a.start;
    }
    case 'first_use':
      // Within one first-use window every usage after its opening counts (see the model).
      return true;
    case 'none':
      return false;
  }
}

/** Whether an event at some instant of `event` may count for some decision instant in `query`. */
export function possiblyIn(window: WindowModel, event: Interval, query: Interval, skewMs = 0): boolean {
  const e = widen(event, skewMs);
  const q = widen(query, skewMs);
  switch (window.kind) {
    case 'rolling':
      return e.hi > q.lo - window.lengthMs - window.slackMs;
    case 'fixed':
    case 'calendar':
    case 'total': {
      const a = rangeAt(window, q.lo);
      return a !== null && e.hi >= a.start;
    }
    case 'first_use':
      return true;
    case 'none':
      return false;
  }
}

/** A boundary of a fixed/calendar window may fall within the interval (the window is ambiguous). */
export function boundaryWithin(window: WindowModel, query: Interval, skewMs = 0): boolean {
  const q = widen(query, skewMs);
  const a = rangeAt(window, q.lo);
  const b = rangeAt(window, q.hi);
  return a !== null && b !== null && a.start !== b.start;
}

export function describeWindow(window: WindowModel): string {
  switch (window.kind) {
    case 'rolling':
      return `rolling ${window.lengthMs / 1000}s`;
    case 'fixed':
      return `fixed ${window.lengthMs / 1000}s from ${new Date(window.anchor).toISOString()}`;
    case 'calendar':
      return `daily at ${window.resetTime} ${window.timezone}`;
    case 'first_use':
      return `first_use ${window.lengthMs / 1000}s`;
    case 'total':
      return 'total';
    case 'none':
      return 'concurrency';
  }
}
