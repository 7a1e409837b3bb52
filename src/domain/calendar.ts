import { DateTime, IANAZone } from 'luxon';

/**
 * Calendar boundaries (SPEC §1, `calendar`): every zone calculation goes through luxon, so
 * daylight-saving changes come from the IANA database, never from hand-written offsets.
 *
 * - A day is whatever the zone says: 23 h on a spring-forward day, 25 h on a fall-back day.
 * - A `resetTime` inside a DST gap (02:30 on a spring-forward day in New York) does not
 *   exist; luxon shifts it forward by the gap (03:30 local), so the boundary is still one
 *   well-defined instant and boundaries stay increasing.
 * - A `resetTime` that occurs twice (01:30 on a fall-back day) resolves to one occurrence,
 *   chosen by luxon (currently the later, standard-time one); it never yields two resets.
 */
export type CalendarUnit = 'daily' | 'weekly' | 'monthly';

export interface ResetClock {
  hour: number;
  minute: number;
}

const RESET_TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

/**
 * Zone names Intl accepted. Asking Intl builds a DateTimeFormat, which costs more than a
 * whole decision; once per name is enough. Only valid names are kept, so the set is bounded
 * by the IANA database whatever strings are asked about.
 */
const validZones = new Set<string>();

export function isValidTimezone(zone: string): boolean {
  if (validZones.has(zone)) return true;
  const valid = IANAZone.isValidZone(zone);
  if (valid) validZones.add(zone);
  return valid;
}

/** `HH:MM` → hour and minute; anything else is midnight (the admin API validates first). */
export function parseResetTime(resetTime: string | null): ResetClock {
  const match = RESET_TIME.exec(resetTime ?? '');
  return match ? { hour: Number(match[1]), minute: Number(match[2]) } : { hour: 0, minute: 0 };
}

/**
 * The last period computed per (unit, zone, reset time). Periods tile the timeline, so any
 * `now` inside a known one gets that one: luxon's zone arithmetic (tens of µs per call, on
 * every calendar bucket of every decision) then runs about once per period. Cleared when
 * it grows past MAX_PERIODS keys (each key is a distinct calendar definition).
 */
const periods = new Map<string, { start: number; end: number }>();
const MAX_PERIODS = 1_000;

/** The calendar period containing `now`: [start, end) in epoch ms. */
export function calendarPeriod(
  unit: CalendarUnit,
  now: number,
  zone: string,
  at: ResetClock,
): { start: number; end: number } {
  const effectiveZone = isValidTimezone(zone) ? zone : 'UTC';
  const key = `${unit}|${effectiveZone}|${at.hour}:${at.minute}`;
  const known = periods.get(key);
  if (known && known.start <= now && now < known.end) return { start: known.start, end: known.end };
  const local = DateTime.fromMillis(now, { zone: effectiveZone });
  let first = periodStartDate(unit, local);
  // Before today's (this week's, this month's) reset time, the period began one unit earlier.
  if (boundary(first, at) > now) first = first.minus(step(unit));
  const period = { start: boundary(first, at), end: boundary(first.plus(step(unit)), at) };
  if (periods.size >= MAX_PERIODS) periods.clear();
  periods.set(key, period);
  return { start: period.start, end: period.end };
}

function periodStartDate(unit: CalendarUnit, local: DateTime): DateTime {
  if (unit === 'weekly') return local.startOf('week'); // ISO weeks: Monday
  return local.startOf(unit === 'daily' ? 'day' : 'month');
}

function step(unit: CalendarUnit): { days: number } | { months: number } {
  if (unit === 'daily') return { days: 1 };
  return unit === 'weekly' ? { days: 7 } : { months: 1 };
}

/** The instant the reset clock reads on the given local date (gap times shift forward). */
function boundary(date: DateTime, at: ResetClock): number {
  return DateTime.fromObject(
    { year: date.year, month: date.month, day: date.day, hour: at.hour, minute: at.minute },
    { zone: date.zone },
  ).toMillis();
}
