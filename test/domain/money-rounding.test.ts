import { describe, expect, it } from 'vitest';
import { parseSpentUsd, parseUsd } from '../../src/domain/money.js';

const micros = (value: number | string) => {
  const parsed = parseSpentUsd(value);
  return parsed.ok ? parsed.micros : parsed.message;
};

describe('data-plane dollars (parseSpentUsd, SPEC §1)', () => {
  it('takes a float sum to the micro-dollar its decimal text names', () => {
    expect(micros(0.1 + 0.2)).toBe(300_000);
    expect(micros(0.0173)).toBe(17_300);
    expect(micros(1.005 * 1000)).toBe(1_005_000_000);
  });

  it('rounds halves up and the rest to nearest, from numbers and strings alike', () => {
    expect(micros(0.0000005)).toBe(1);
    expect(micros('0.0000005')).toBe(1);
    expect(micros(1e-7)).toBe(0);
    expect(micros('0.00000049999999')).toBe(0);
    expect(micros(2.5e-7)).toBe(0);
    expect(micros(2.5e-6)).toBe(3);
    expect(micros('0.9999995')).toBe(1_000_000);
    expect(micros(12.3456784)).toBe(12_345_678);
    expect(micros('7')).toBe(7_000_000);
  });

  it('reads exponents from the shortest round-trip digits', () => {
    expect(micros(1.2345678e-3)).toBe(1_235);
    expect(micros(5e-324)).toBe(0);
    expect(micros(1e21)).toBe('is too large');
  });

  it('refuses negative, non-finite and non-decimal amounts', () => {
    expect(micros(-0.0000001)).toBe('must be ≥ 0');
    expect(micros('-1')).toBe('must be ≥ 0');
    expect(micros(-0)).toBe(0);
    expect(micros(Number.NaN)).toBe('must be a finite number');
    expect(micros(Number.POSITIVE_INFINITY)).toBe('must be a finite number');
    for (const text of ['1e3', 'NaN', '', '.5', '1.', '0x10', '1,5']) {
      expect(micros(text), text).toBe('must be a decimal number of dollars');
    }
  });

  it('leaves admin amounts strict: more than 6 decimals is refused', () => {
    expect(parseUsd(0.0000005)).toEqual({ ok: false, message: 'must have at most 6 decimals' });
    expect(parseUsd('0.1234567')).toEqual({ ok: false, message: 'must have at most 6 decimals' });
    expect(parseUsd(0.000001)).toEqual({ ok: true, micros: 1 });
    expect(parseUsd(-2.5)).toEqual({ ok: true, micros: -2_500_000 });
  });
});
