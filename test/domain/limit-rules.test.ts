import { describe, expect, it } from 'vitest';
import {
  checkInstant,
  checkQuantity,
  checkReset,
  checkResetTime,
  checkSubjectId,
  checkTimezone,
  validateBoost,
  validateLimit,
  validateResetMarker,
  type LimitInput,
  type RuleResult,
} from '../../src/domain/limit-rules.js';
import { parseWindow } from '../../src/domain/window-spec.js';

const base: LimitInput = {
  subjectType: 'user',
  subjectId: 'u-42',
  modelGroupId: null,
  metric: 'cost',
  window: '5h',
  limit: 10.5,
};

const fields = <T>(result: RuleResult<T>) => (result.ok ? [] : result.errors.map((e) => e.field));
const value = <T>(result: RuleResult<T>): T => {
  if (!result.ok) throw new Error(`expected ok, got ${JSON.stringify(result.errors)}`);
  return result.value;
};
const spec = (window: string) => {
  const parsed = parseWindow(window);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.spec;
};

describe('checkQuantity', () => {
  it('parses cost dollars exactly into micro-dollars, from numbers and decimal strings', () => {
    expect(checkQuantity('cost', 10.5, false)).toEqual({ ok: true, value: 10_500_000 });
    expect(checkQuantity('cost', '0.000001', false)).toEqual({ ok: true, value: 1 });
    expect(checkQuantity('cost', 0.1, false)).toEqual({ ok: true, value: 100_000 });
    expect(checkQuantity('cost', 0, false)).toEqual({ ok: true, value: 0 });
  });

  it('refuses cost with more than 6 decimals, negative, non-finite or non-numeric', () => {
    expect(checkQuantity('cost', '0.0000001', false).ok).toBe(false);
    expect(checkQuantity('cost', 0.1 + 0.2, false).ok).toBe(false);
    expect(checkQuantity('cost', -1, false).ok).toBe(false);
    expect(checkQuantity('cost', Infinity, false).ok).toBe(false);
    expect(checkQuantity('cost', Number.NaN, false).ok).toBe(false);
    expect(checkQuantity('cost', 'ten', false).ok).toBe(false);
    expect(checkQuantity('cost', '1e3', false).ok).toBe(false);
  });

  it('takes whole counts for requests, sessions and concurrency', () => {
    expect(checkQuantity('requests', 100, false)).toEqual({ ok: true, value: 100 });
    expect(checkQuantity('sessions', '3', false)).toEqual({ ok: true, value: 3 });
    expect(checkQuantity('concurrency', 0, false)).toEqual({ ok: true, value: 0 });
    expect(checkQuantity('requests', 1.5, false).ok).toBe(false);
    expect(checkQuantity('requests', '1.5', false).ok).toBe(false);
    expect(checkQuantity('requests', -1, false).ok).toBe(false);
    expect(checkQuantity('requests', 1e21, false)).toEqual({ ok: false, message: 'is too large' });
  });

  it('requires more than 0 when positive (boost amounts)', () => {
    expect(checkQuantity('cost', 0, true).ok).toBe(false);
    expect(checkQuantity('requests', '0', true).ok).toBe(false);
    expect(checkQuantity('cost', '0.000001', true)).toEqual({ ok: true, value: 1 });
  });
});

describe('checkSubjectId', () => {
  it('accepts 1–256 printable characters', () => {
    expect(checkSubjectId('user', 'ü-42 with spaces').ok).toBe(true);
    expect(checkSubjectId('key', 'k'.repeat(256)).ok).toBe(true);
  });

  it('refuses empty, too long and control characters', () => {
    expect(checkSubjectId('user', '').ok).toBe(false);
    expect(checkSubjectId('user', 'k'.repeat(257)).ok).toBe(false);
    expect(checkSubjectId('user', 'u\n42').ok).toBe(false);
    expect(checkSubjectId('user', 'u\u200b42').ok).toBe(false);
  });

  it('needs a user group id in canonical decimal for user_group', () => {
    expect(checkSubjectId('user_group', '7').ok).toBe(true);
    expect(checkSubjectId('user_group', 'pro').ok).toBe(false);
    expect(checkSubjectId('user_group', '07').ok).toBe(false);
    expect(checkSubjectId('user_group', '2147483648').ok).toBe(false);
  });
});

describe('checkReset', () => {
  it('defaults from the window', () => {
    expect(checkReset(spec('5h'), undefined)).toEqual({ ok: true, value: 'rolling' });
    expect(checkReset(spec('daily'), null)).toEqual({ ok: true, value: 'calendar' });
    expect(checkReset(spec('total'), undefined)).toEqual({ ok: true, value: null });
  });

  it('refuses resets the window does not allow', () => {
    expect(checkReset(spec('monthly'), 'fixed').ok).toBe(false);
    expect(checkReset(spec('monthly'), 'first_use').ok).toBe(false);
    expect(checkReset(spec('total'), 'rolling').ok).toBe(false);
    expect(checkReset(spec('5h'), 'calendar').ok).toBe(false);
    // Calendar boundaries belong to the named windows; `24h` shares daily's slot, not its calendar.
    expect(checkReset(spec('24h'), 'calendar').ok).toBe(false);
    expect(checkReset(spec('daily'), 'sometimes').ok).toBe(false);
  });
});

describe('field formats', () => {
  it('checkInstant takes RFC 3339 with an offset only', () => {
    expect(checkInstant('2027-01-04T00:00:00Z')).toEqual({
      ok: true,
      value: Date.parse('2027-01-04T00:00:00Z'),
    });
    expect(checkInstant('2027-01-04T01:00:00.5+01:00')).toEqual({
      ok: true,
      value: Date.parse('2027-01-04T00:00:00.5Z'),
    });
    expect(checkInstant('2027-01-04T00:00:00').ok).toBe(false);
    expect(checkInstant('2027-01-04').ok).toBe(false);
    expect(checkInstant('2027-02-30T00:00:00Z').ok).toBe(false);
  });

  it('checkTimezone takes IANA names only', () => {
    expect(checkTimezone('Europe/Berlin').ok).toBe(true);
    expect(checkTimezone('UTC').ok).toBe(true);
    expect(checkTimezone('Mars/Olympus').ok).toBe(false);
    expect(checkTimezone('local').ok).toBe(false);
    expect(checkTimezone('UTC+3').ok).toBe(false);
  });

  it('checkResetTime takes HH:MM from 00:00 to 23:59', () => {
    expect(checkResetTime('00:00').ok).toBe(true);
    expect(checkResetTime('23:59').ok).toBe(true);
    expect(checkResetTime('24:00').ok).toBe(false);
    expect(checkResetTime('7:00').ok).toBe(false);
    expect(checkResetTime('07:60').ok).toBe(false);
  });
});

describe('validateLimit', () => {
  it('normalizes the slot and keeps the window as written', () => {
    const draft = value(validateLimit({ ...base, window: '300m' }));
    expect(draft).toMatchObject({
      window: '300m',
      slot: '5h',
      reset: 'rolling',
      cap: 10_500_000,
      anchor: null,
    });
    expect(value(validateLimit({ ...base, window: '1d' })).slot).toBe('daily');
  });

  it('names window for unknown, out-of-range, missing and concurrency windows', () => {
    expect(fields(validateLimit({ ...base, window: 'hourly' }))).toEqual(['window']);
    expect(fields(validateLimit({ ...base, window: '401d' }))).toEqual(['window']);
    expect(fields(validateLimit({ ...base, window: '0s' }))).toEqual(['window']);
    expect(fields(validateLimit({ ...base, window: undefined }))).toEqual(['window']);
    expect(fields(validateLimit({ ...base, metric: 'concurrency', window: '5h', limit: 2 }))).toEqual([
      'window',
    ]);
    expect(value(validateLimit({ ...base, metric: 'concurrency', window: null, limit: 2 }))).toMatchObject({
      slot: 'concurrent',
      reset: null,
    });
  });

  it('names reset when the window does not allow it', () => {
    expect(fields(validateLimit({ ...base, window: 'monthly', reset: 'fixed' }))).toEqual(['reset']);
    expect(fields(validateLimit({ ...base, window: 'total', reset: 'rolling' }))).toEqual(['reset']);
    expect(
      fields(validateLimit({ ...base, metric: 'concurrency', window: null, reset: 'rolling', limit: 2 })),
    ).toEqual(['reset']);
  });

  it('takes anchor only with fixed', () => {
    const fixed = value(validateLimit({ ...base, reset: 'fixed', anchor: '2027-01-04T03:00:00+01:00' }));
    expect(fixed.anchor).toBe(Date.parse('2027-01-04T02:00:00Z'));
    expect(value(validateLimit({ ...base, reset: 'fixed' })).anchor).toBeNull();
    expect(fields(validateLimit({ ...base, anchor: '2027-01-04T00:00:00Z' }))).toEqual(['anchor']);
    expect(fields(validateLimit({ ...base, reset: 'fixed', anchor: 'yesterday' }))).toEqual(['anchor']);
  });

  it('takes timezone and resetTime only with calendar', () => {
    const draft = value(
      validateLimit({ ...base, window: 'daily', timezone: 'America/New_York', resetTime: '04:30' }),
    );
    expect(draft).toMatchObject({ reset: 'calendar', timezone: 'America/New_York', resetTime: '04:30' });
    expect(value(validateLimit({ ...base, window: 'weekly' }))).toMatchObject({
      timezone: null,
      resetTime: null,
    });
    expect(fields(validateLimit({ ...base, timezone: 'UTC' }))).toEqual(['timezone']);
    expect(fields(validateLimit({ ...base, resetTime: '04:00' }))).toEqual(['resetTime']);
    expect(fields(validateLimit({ ...base, window: 'daily', reset: 'rolling', timezone: 'UTC' }))).toEqual([
      'timezone',
    ]);
    expect(fields(validateLimit({ ...base, window: 'daily', timezone: 'Nowhere/City' }))).toEqual([
      'timezone',
    ]);
    expect(fields(validateLimit({ ...base, window: 'daily', resetTime: '25:00' }))).toEqual(['resetTime']);
  });

  it('names limit for negative, non-finite and over-precise caps; 0 is allowed', () => {
    expect(fields(validateLimit({ ...base, limit: -1 }))).toEqual(['limit']);
    expect(fields(validateLimit({ ...base, limit: Infinity }))).toEqual(['limit']);
    expect(fields(validateLimit({ ...base, limit: '1.0000001' }))).toEqual(['limit']);
    expect(fields(validateLimit({ ...base, metric: 'requests', limit: 2.5 }))).toEqual(['limit']);
    expect(value(validateLimit({ ...base, limit: 0 })).cap).toBe(0);
  });

  it('reports every invalid field at once', () => {
    expect(fields(validateLimit({ ...base, subjectId: '', window: 'x', limit: -1 })).sort()).toEqual([
      'limit',
      'subjectId',
      'window',
    ]);
  });
});

describe('validateBoost', () => {
  const now = Date.parse('2027-01-04T00:00:00Z');
  const boost = {
    subjectType: 'user' as const,
    subjectId: 'u-42',
    modelGroupId: null,
    metric: 'cost' as const,
    window: 'daily',
    amount: '5',
    expiresAt: '2027-01-11T00:00:00Z',
  };

  it('starts now by default and converts the amount', () => {
    expect(value(validateBoost(boost, now))).toMatchObject({
      startsAt: now,
      expiresAt: Date.parse('2027-01-11T00:00:00Z'),
      amount: 5_000_000,
      slot: 'daily',
      reason: null,
    });
  });

  it('needs expiresAt after startsAt', () => {
    expect(fields(validateBoost({ ...boost, expiresAt: '2027-01-04T00:00:00Z' }, now))).toEqual([
      'expiresAt',
    ]);
    expect(
      fields(
        validateBoost({ ...boost, startsAt: '2027-01-12T00:00:00Z', expiresAt: '2027-01-11T00:00:00Z' }, now),
      ),
    ).toEqual(['expiresAt']);
  });

  it('needs an amount above 0 and a valid window', () => {
    expect(fields(validateBoost({ ...boost, amount: 0 }, now))).toEqual(['amount']);
    expect(fields(validateBoost({ ...boost, metric: 'requests', amount: 1.5 }, now))).toEqual(['amount']);
    expect(fields(validateBoost({ ...boost, window: '500d' }, now))).toEqual(['window']);
    expect(fields(validateBoost({ ...boost, metric: 'concurrency', window: '5h', amount: 1 }, now))).toEqual([
      'window',
    ]);
  });
});

describe('validateResetMarker', () => {
  it('normalizes the slot', () => {
    const draft = value(
      validateResetMarker({
        subjectType: 'key',
        subjectId: 'k-9',
        modelGroupId: 3,
        metric: 'requests',
        window: '18000s',
      }),
    );
    expect(draft).toMatchObject({ window: '18000s', slot: '5h', modelGroupId: 3 });
  });

  it('names window and subjectId', () => {
    expect(
      fields(
        validateResetMarker({ subjectType: 'key', subjectId: '', modelGroupId: null, metric: 'cost' }),
      ).sort(),
    ).toEqual(['subjectId', 'window']);
  });
});
