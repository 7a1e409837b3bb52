import { describe, expect, it } from 'vitest';
import { OffsetClock } from '../../src/clock.js';

describe('clock following a remote server', () => {
  it('adopts the remote time, in whole milliseconds', async () => {
    const skew = 86_400_000 + 0.5;
    const clock = new OffsetClock(async () => Date.now() + skew, 60_000);
    await clock.start();
    clock.stop();
    const now = clock.now();
    expect(Number.isInteger(now)).toBe(true);
    expect(Math.abs(now - (Date.now() + skew))).toBeLessThan(50);
  });
});
