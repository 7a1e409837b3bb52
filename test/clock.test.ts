import { describe, expect, it } from 'vitest';
import { OffsetClock } from '../src/clock.js';

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

  it('follows the local clock while the remote does not answer, then adopts it', async () => {
    const skew = 3_600_000;
    let up = false;
    const clock = new OffsetClock(async () => {
      if (!up) throw new Error('Connection is closed.');
      return Date.now() + skew;
    }, 60_000);
    expect(await clock.start()).toBe(false);
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(50);
    up = true;
    expect(await clock.remeasure()).toBe(true);
    clock.stop();
    expect(Math.abs(clock.now() - (Date.now() + skew))).toBeLessThan(50);
  });

  it('keeps the last offset when a later measurement fails', async () => {
    const skew = 60_000;
    let up = true;
    const clock = new OffsetClock(async () => {
      if (!up) throw new Error('Connection is closed.');
      return Date.now() + skew;
    }, 60_000);
    expect(await clock.start()).toBe(true);
    up = false;
    expect(await clock.remeasure()).toBe(false);
    clock.stop();
    expect(Math.abs(clock.now() - (Date.now() + skew))).toBeLessThan(50);
  });

  it('keeps its offset through a slow answer (a paused server), which would skew it by half the delay', async () => {
    let delayMs = 0;
    const clock = new OffsetClock(async () => {
      // What a server paused for `delayMs` answers: its time when the pause ends.
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return Date.now();
    }, 60_000);
    expect(await clock.start()).toBe(true);
    delayMs = 400;
    await clock.remeasure();
    clock.stop();
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(20);
  });
});
