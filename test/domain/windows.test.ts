import { describe, expect, it } from 'vitest';
import { calendarPeriod, parseResetTime } from '../../src/domain/calendar.js';
import { firstUseOpen } from '../../src/domain/first-use.js';
import { currentWindow, windowContains, windowDefOf, type WindowDef } from '../../src/domain/windows.js';
import { limit, ms } from './fixtures.js';

const HOUR = 3_600_000;

function def(fields: Partial<WindowDef>): WindowDef {
  return {
    slot: '1h',
    kind: 'fixed',
    lengthMs: HOUR,
    anchor: 0,
    timezone: 'UTC',
    resetTime: '00:00',
    ...fields,
  };
}

const calendar = (slot: string, timezone = 'UTC', resetTime = '00:00') =>
  def({ slot, kind: 'calendar', lengthMs: null, timezone, resetTime });

function isoRange(range: { start: number; end: number | null }) {
  return {
    start: new Date(range.start).toISOString(),
    end: range.end === null ? null : new Date(range.end).toISOString(),
  };
}

describe('fixed windows', () => {
  it('counts consecutive windows from the epoch by default', () => {
    const range = currentWindow(def({}), ms('2027-01-04T05:30:00Z'));
    expect(isoRange(range)).toEqual({ start: '2027-01-04T05:00:00.000Z', end: '2027-01-04T06:00:00.000Z' });
  });

  it('counts windows from the anchor after it', () => {
    const anchored = def({ anchor: ms('2027-01-01T00:10:00Z') });
    expect(isoRange(currentWindow(anchored, ms('2027-01-04T02:45:00Z')))).toEqual({
      start: '2027-01-04T02:10:00.000Z',
      end: '2027-01-04T03:10:00.000Z',
    });
  });

  it('extends the anchor grid backwards before the anchor', () => {
    const anchored = def({ anchor: ms('2027-01-01T00:10:00Z') });
    expect(isoRange(currentWindow(anchored, ms('2026-12-31T23:00:00Z')))).toEqual({
      start: '2026-12-31T22:10:00.000Z',
      end: '2026-12-31T23:10:00.000Z',
    });
  });

  it('opens the next window exactly at the boundary', () => {
    const range = currentWindow(def({}), ms('2027-01-04T06:00:00Z'));
    expect(range.start).toBe(ms('2027-01-04T06:00:00Z'));
  });
});

describe('rolling windows', () => {
  it('covers (now − length, now] and never ends', () => {
    const now = ms('2027-01-04T12:00:00Z');
    const range = currentWindow(def({ kind: 'rolling' }), now);
    expect(range).toEqual({ start: now - HOUR + 1, end: null });
    expect(windowContains(range, now - HOUR)).toBe(false);
    expect(windowContains(range, now - HOUR + 1)).toBe(true);
  });

  it('moves with now', () => {
    const rolling = def({ kind: 'rolling' });
    expect(currentWindow(rolling, 5 * HOUR).start - currentWindow(rolling, 4 * HOUR).start).toBe(HOUR);
  });
});

describe('total windows', () => {
  it('starts at −∞ and never resets', () => {
    expect(currentWindow(def({ kind: 'total', lengthMs: null }), 123)).toEqual({
      start: -Infinity,
      end: null,
    });
  });
});

describe('calendar windows', () => {
  it('resets daily at midnight UTC by default', () => {
    expect(isoRange(currentWindow(calendar('daily'), ms('2027-01-04T23:59:59.999Z')))).toEqual({
      start: '2027-01-04T00:00:00.000Z',
      end: '2027-01-05T00:00:00.000Z',
    });
  });

  it('resets daily at resetTime, before it belonging to the previous day', () => {
    const at0930 = calendar('daily', 'UTC', '09:30');
    expect(currentWindow(at0930, ms('2027-01-04T09:29:59Z')).start).toBe(ms('2027-01-03T09:30:00Z'));
    expect(currentWindow(at0930, ms('2027-01-04T09:30:00Z')).start).toBe(ms('2027-01-04T09:30:00Z'));
  });

  it('uses Asia/Shanghai midnight (UTC+8)', () => {
    const shanghai = calendar('daily', 'Asia/Shanghai');
    expect(isoRange(currentWindow(shanghai, ms('2027-01-04T15:59:59.999Z')))).toEqual({
      start: '2027-01-03T16:00:00.000Z',
      end: '2027-01-04T16:00:00.000Z',
    });
    expect(currentWindow(shanghai, ms('2027-01-04T16:00:00Z')).start).toBe(ms('2027-01-04T16:00:00Z'));
  });

  it('gives the New York spring-forward day 23 hours', () => {
    const range = currentWindow(calendar('daily', 'America/New_York'), ms('2027-03-14T16:00:00Z'));
    expect(isoRange(range)).toEqual({ start: '2027-03-14T05:00:00.000Z', end: '2027-03-15T04:00:00.000Z' });
    expect((range.end as number) - range.start).toBe(23 * HOUR);
  });

  it('gives the New York fall-back day 25 hours', () => {
    const range = currentWindow(calendar('daily', 'America/New_York'), ms('2027-11-07T16:00:00Z'));
    expect(isoRange(range)).toEqual({ start: '2027-11-07T04:00:00.000Z', end: '2027-11-08T05:00:00.000Z' });
    expect((range.end as number) - range.start).toBe(25 * HOUR);
  });

  it('shifts a resetTime inside the DST gap forward by the gap (02:30 → 03:30 EDT)', () => {
    const gap = calendar('daily', 'America/New_York', '02:30');
    expect(isoRange(currentWindow(gap, ms('2027-03-14T08:00:00Z')))).toEqual({
      start: '2027-03-14T07:30:00.000Z',
      end: '2027-03-15T06:30:00.000Z',
    });
    // 03:00 EDT is before the shifted boundary: still the window opened 02:30 EST the day before.
    expect(currentWindow(gap, ms('2027-03-14T07:00:00Z')).start).toBe(ms('2027-03-13T07:30:00Z'));
  });

  it('resolves a resetTime that occurs twice to a single boundary', () => {
    const twice = calendar('daily', 'America/New_York', '01:30');
    const range = currentWindow(twice, ms('2027-11-07T12:00:00Z'));
    expect(isoRange(range)).toEqual({ start: '2027-11-07T06:30:00.000Z', end: '2027-11-08T06:30:00.000Z' });
  });

  it('starts weeks on Monday', () => {
    const weekly = calendar('weekly');
    expect(isoRange(currentWindow(weekly, ms('2027-01-10T23:59:59Z')))).toEqual({
      start: '2027-01-04T00:00:00.000Z',
      end: '2027-01-11T00:00:00.000Z',
    });
    expect(currentWindow(weekly, ms('2027-01-11T00:00:00Z')).start).toBe(ms('2027-01-11T00:00:00Z'));
  });

  it('belongs to the previous week on Monday before the resetTime', () => {
    const weekly = calendar('weekly', 'UTC', '09:00');
    expect(currentWindow(weekly, ms('2027-01-11T08:00:00Z')).start).toBe(ms('2027-01-04T09:00:00Z'));
  });

  it('resets monthly on the first, months of any length', () => {
    expect(isoRange(currentWindow(calendar('monthly'), ms('2027-02-15T00:00:00Z')))).toEqual({
      start: '2027-02-01T00:00:00.000Z',
      end: '2027-03-01T00:00:00.000Z',
    });
  });

  it('resets monthly at resetTime in the zone, across a year end', () => {
    const ny = calendar('monthly', 'America/New_York', '06:00');
    expect(isoRange(currentWindow(ny, ms('2027-01-01T10:00:00Z')))).toEqual({
      start: '2026-12-01T11:00:00.000Z',
      end: '2027-01-01T11:00:00.000Z',
    });
  });

  it('falls back to midnight UTC for invalid reset times and zones', () => {
    expect(parseResetTime('25:00')).toEqual({ hour: 0, minute: 0 });
    expect(
      calendarPeriod('daily', ms('2027-01-04T05:00:00Z'), 'Not/AZone', { hour: 0, minute: 0 }).start,
    ).toBe(ms('2027-01-04T00:00:00Z'));
  });

  it('answers the same whatever was asked before (periods are memoized)', () => {
    // Across New York's spring-forward night, with a reset time inside the gap.
    const instants = Array.from({ length: 24 * 9 }, (_, i) => ms('2027-03-10T00:00:00Z') + i * HOUR);
    const ask = (t: number) =>
      (['daily', 'weekly', 'monthly'] as const).map((unit) =>
        calendarPeriod(unit, t, 'America/New_York', { hour: 2, minute: 30 }),
      );
    const forward = instants.map(ask);
    const backward = [...instants].reverse().map(ask).reverse();
    expect(backward).toEqual(forward);
    for (const [i, periods] of forward.entries()) {
      const t = instants[i] ?? 0;
      for (const p of periods) expect(p.start <= t && t < p.end).toBe(true);
    }
  });
});

describe('first-use windows', () => {
  const firstUse = def({ kind: 'first_use', lengthMs: 5 * HOUR });
  const now = ms('2027-01-04T12:00:00Z');

  it('opens at now when no window was ever opened', () => {
    expect(currentWindow(firstUse, now, { firstUseStart: null })).toEqual({
      start: now,
      end: now + 5 * HOUR,
    });
  });

  it('keeps the stored window while it is open', () => {
    const start = now - HOUR;
    expect(currentWindow(firstUse, now, { firstUseStart: start })).toEqual({ start, end: start + 5 * HOUR });
  });

  it('opens a new window once the stored one has ended', () => {
    const start = now - 5 * HOUR;
    expect(currentWindow(firstUse, now, { firstUseStart: start })).toEqual({
      start: now,
      end: now + 5 * HOUR,
    });
  });

  it('treats a window started before the latest reset marker as closed', () => {
    expect(firstUseOpen(now - HOUR, { lengthMs: 5 * HOUR, floor: now - 1 }, now)).toBe(false);
    expect(currentWindow(firstUse, now, { firstUseStart: now - HOUR, resetMarker: now - 1 }).start).toBe(now);
  });
});

describe('reset markers', () => {
  const now = ms('2027-01-04T05:30:00Z');

  it('moves the start of a fixed window to the marker and keeps its end', () => {
    const marker = ms('2027-01-04T05:10:00Z');
    expect(currentWindow(def({}), now, { resetMarker: marker })).toEqual({
      start: marker,
      end: ms('2027-01-04T06:00:00Z'),
    });
  });

  it('ignores a marker older than the window', () => {
    expect(currentWindow(def({}), now, { resetMarker: ms('2027-01-04T04:10:00Z') }).start).toBe(
      ms('2027-01-04T05:00:00Z'),
    );
  });

  it('gives a total window a start', () => {
    expect(currentWindow(def({ kind: 'total', lengthMs: null }), now, { resetMarker: 42 })).toEqual({
      start: 42,
      end: null,
    });
  });

  it('cuts a rolling window at the marker', () => {
    const marker = now - 10_000;
    expect(currentWindow(def({ kind: 'rolling' }), now, { resetMarker: marker }).start).toBe(marker);
  });
});

describe('window definitions of limits', () => {
  it('defaults 5h to rolling and daily to calendar in the default zone', () => {
    expect(windowDefOf(limit({ metric: 'cost', cap: 1, window: '300m', slot: '5h' }), 'UTC')).toMatchObject({
      slot: '5h',
      kind: 'rolling',
      lengthMs: 5 * HOUR,
    });
    expect(windowDefOf(limit({ metric: 'cost', cap: 1, window: 'daily' }), 'Europe/Paris')).toMatchObject({
      kind: 'calendar',
      timezone: 'Europe/Paris',
      resetTime: '00:00',
    });
  });

  it('takes anchor, zone and resetTime from the limit', () => {
    const anchored = limit({
      metric: 'requests',
      cap: 1,
      window: '1h',
      slot: '1h',
      reset: 'fixed',
      anchor: 7,
    });
    expect(windowDefOf(anchored, 'UTC')).toMatchObject({ kind: 'fixed', anchor: 7, lengthMs: HOUR });
    const zoned = limit({
      metric: 'cost',
      cap: 1,
      window: 'weekly',
      timezone: 'Asia/Shanghai',
      resetTime: '08:00',
    });
    expect(windowDefOf(zoned, 'UTC')).toMatchObject({
      kind: 'calendar',
      timezone: 'Asia/Shanghai',
      resetTime: '08:00',
    });
  });

  it('has no window for total and concurrency', () => {
    expect(windowDefOf(limit({ metric: 'cost', cap: 1, window: 'total' }), 'UTC').kind).toBe('total');
    expect(windowDefOf(limit({ metric: 'concurrency', cap: 1 }), 'UTC').kind).toBe('none');
  });

  it('falls back to the default reset when the stored one is not allowed for the window', () => {
    expect(windowDefOf(limit({ metric: 'cost', cap: 1, window: '5h', reset: 'calendar' }), 'UTC').kind).toBe(
      'rolling',
    );
  });
});
