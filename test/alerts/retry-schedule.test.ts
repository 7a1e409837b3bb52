import { describe, expect, it } from 'vitest';
import { MAX_RETRY_GAP_MS, nextAttemptAt, retryGap, retryWindowMs } from '../../src/alerts/retry-schedule.js';

describe('retry schedule', () => {
  it('retries about 1 s after the first failure and doubles', () => {
    expect([1, 2, 3, 4, 5].map(retryGap)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
  });

  it('never waits more than 10 minutes between attempts, however many failed', () => {
    expect(retryGap(10)).toBe(512_000);
    expect(retryGap(11)).toBe(MAX_RETRY_GAP_MS);
    expect(retryGap(500)).toBe(MAX_RETRY_GAP_MS);
  });

  it('schedules the next attempt from the failure while it falls inside the window', () => {
    const created = 1_000_000;
    const window = retryWindowMs(24);
    expect(window).toBe(86_400_000);
    expect(nextAttemptAt(created + 50, 1, created, window)).toBe(created + 1_050);
    expect(nextAttemptAt(created + window - 600_000, 40, created, window)).toBe(created + window);
  });

  it('gives up when the next attempt would fall past the window', () => {
    const created = 0;
    const window = retryWindowMs(0.0005);
    expect(window).toBe(1_800);
    expect(nextAttemptAt(10, 1, created, window)).toBe(1_010);
    expect(nextAttemptAt(1_020, 2, created, window)).toBeNull();
  });
});
