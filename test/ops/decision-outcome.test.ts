import { describe, expect, it } from 'vitest';
import { decisionOutcome } from '../../src/ops/metrics.js';

describe('decision outcome label', () => {
  it('tells admissions from fail-opens and refusals', () => {
    expect(decisionOutcome(200, false)).toBe('allowed');
    expect(decisionOutcome(200, true)).toBe('fail_open');
    expect(decisionOutcome(429, false)).toBe('refused');
  });

  it.each([400, 401, 403, 404, 405, 409, 413, 415])(
    'counts a %i as the caller’s mistake (rejected)',
    (status) => {
      expect(decisionOutcome(status, false)).toBe('rejected');
    },
  );

  it.each([500, 503])('keeps error for what an operator must act on (%i)', (status) => {
    expect(decisionOutcome(status, false)).toBe('error');
  });
});
