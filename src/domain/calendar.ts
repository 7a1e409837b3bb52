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

export function isValidTimezone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

/** `HH:MM` → hour and minute; anything else is midnight (the admin API validates first). */
export function parseResetTime(resetTime: string | null): ResetClock {
  const match = RESET_TIME.exec(resetTime ?? '');
  return match ? { hour: Number(match[1]), minute: Number(match[2]) } : { hour: 0, minute: 0 };
}

/** The calendar period containing `now`: [start, end) in epoch ms. */
export function calendarPeriod(
  unit: CalendarUnit,
  now: number,
  zone: string,
  at: ResetClock,
): { start: number; end: number } {
  const local = DateTime.fromMillis(now, { zone: isValidTimezone(zone) ? zone : 'UTC' });
  let first = periodStartDate(unit, local);
  // Before today's (this week's, this month's) reset time, the period began one unit earlier.
  if (boundary(first, at) > now) first = first.minus(step(unit));
  return { start: boundary(first, at), end: boundary(first.plus(step(unit)), at) };
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
