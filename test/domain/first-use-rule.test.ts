import { describe, expect, it } from 'vitest';
import { firstUseCandidates, firstUseOpen, firstUseStartAt } from '../../src/domain/first-use.js';
import { rollingStart } from '../../src/domain/windows.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2027-01-04T00:00:00Z');
const rule = { lengthMs: HOUR, floor: 0 };

describe('firstUseOpen', () => {
  it('is open from its start until one ms before its end', () => {
    expect(firstUseOpen(T0, rule, T0)).toBe(true);
    expect(firstUseOpen(T0, rule, T0 + HOUR - 1)).toBe(true);
    expect(firstUseOpen(T0, rule, T0 + HOUR)).toBe(false);
    expect(firstUseOpen(null, rule, T0)).toBe(false);
  });

  it('is closed by a reset marker after its start, not by one at it', () => {
    expect(firstUseOpen(T0, { lengthMs: HOUR, floor: T0 }, T0 + 1)).toBe(true);
    expect(firstUseOpen(T0, { lengthMs: HOUR, floor: T0 + 1 }, T0 + 1)).toBe(false);
  });
});

describe('firstUseStartAt', () => {
  it('counts usage in the open window, or opens the next one at now', () => {
    expect(firstUseStartAt(T0, rule, T0 + HOUR - 1)).toBe(T0);
    expect(firstUseStartAt(T0, rule, T0 + HOUR)).toBe(T0 + HOUR);
    expect(firstUseStartAt(null, rule, T0)).toBe(T0);
  });
});

describe('firstUseCandidates', () => {
  it('keeps the instants no recorded start covers, each once, oldest first', () => {
    expect(firstUseCandidates([T0 + HOUR, T0 + HOUR - 1, T0 - 1], [T0], HOUR)).toEqual([T0 - 1, T0 + HOUR]);
    expect(firstUseCandidates([T0, T0], [], HOUR)).toEqual([T0]);
  });
});

describe('rollingStart', () => {
  it('is the first instant of (now − length, now], raised to the reset marker', () => {
    expect(rollingStart({ lengthMs: HOUR, floor: 0 }, T0)).toBe(T0 - HOUR + 1);
    expect(rollingStart({ lengthMs: HOUR, floor: T0 - 5 }, T0)).toBe(T0 - 5);
  });
});
