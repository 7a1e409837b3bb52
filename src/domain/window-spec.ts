import type { Metric, Reset } from './types.js';

/**
 * Window names of SPEC §1 and their slots. The slot is the nominal length, so `5h`,
 * `300m` and `18000s` are one slot; `daily` ≡ `24h` ≡ `1d`; `weekly` ≡ `7d`.
 */
export const MIN_CUSTOM_SECONDS = 1;
export const MAX_CUSTOM_SECONDS = 400 * 86_400;
export const CONCURRENCY_SLOT = 'concurrent';

/** The one answer to a window that is not one: every accepted form, so `0s` and `hourly` read alike. */
export const WINDOW_FORMS =
  'must be a window length: 5h, daily, weekly, monthly, total or <n>s/m/h/d between 1 s and 400 d';

const UNIT_SECONDS = { d: 86_400, h: 3_600, m: 60, s: 1 } as const;
const NAMED_SECONDS: Record<string, number> = { '5h': 18_000, daily: 86_400, weekly: 604_800 };

export interface WindowSpec {
  /** Canonical slot name. */
  slot: string;
  /** Nominal length; null for `monthly` (calendar months vary) and `total`. */
  seconds: number | null;
  defaultReset: Reset | null;
  allowedResets: readonly Reset[];
}

export type WindowParse = { ok: true; spec: WindowSpec } | { ok: false; message: string };

/** Canonical name of a length: `daily`, `weekly`, else the largest unit that divides it. */
export function slotOfSeconds(seconds: number): string {
  if (seconds === 86_400) return 'daily';
  if (seconds === 604_800) return 'weekly';
  for (const [unit, size] of Object.entries(UNIT_SECONDS)) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

export function parseWindow(window: string): WindowParse {
  if (window === 'monthly') {
    return ok({ slot: 'monthly', seconds: null, defaultReset: 'calendar', allowedResets: ['calendar'] });
  }
  if (window === 'total') return ok({ slot: 'total', seconds: null, defaultReset: null, allowedResets: [] });
  const named = NAMED_SECONDS[window];
  if (window === 'daily' || window === 'weekly') {
    return ok({
      slot: window,
      seconds: named ?? 0,
      defaultReset: 'calendar',
      allowedResets: ['calendar', 'rolling', 'fixed', 'first_use'],
    });
  }
  const match = /^([1-9][0-9]{0,9})([smhd])$/.exec(window);
  const seconds = match ? Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS] : 0;
  if (seconds < MIN_CUSTOM_SECONDS || seconds > MAX_CUSTOM_SECONDS) {
    return { ok: false, message: WINDOW_FORMS };
  }
  return ok({
    slot: slotOfSeconds(seconds),
    seconds,
    defaultReset: 'rolling',
    allowedResets: ['rolling', 'fixed', 'first_use'],
  });
}

/** The slot of a limit, boost or reset marker: concurrency has no window. */
export function slotOf(metric: Metric, window: string | null): WindowParse {
  if (metric === 'concurrency') {
    return window === null
      ? ok({ slot: CONCURRENCY_SLOT, seconds: null, defaultReset: null, allowedResets: [] })
      : { ok: false, message: 'concurrency has no window; omit it' };
  }
  if (window === null) return { ok: false, message: 'required for this metric' };
  return parseWindow(window);
}

function ok(spec: WindowSpec): WindowParse {
  return { ok: true, spec };
}
