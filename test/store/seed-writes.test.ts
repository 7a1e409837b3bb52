import { describe, expect, it } from 'vitest';
import { seedWrites } from '../../src/store/seed-writes.js';
import type { StoreBucket } from '../../src/store/counter-store.js';

const HOUR = 3_600_000;
const now = 1_000 * HOUR;

const seedOf = (bucket: StoreBucket, usage: { at: number; amount: number; requestId: string }[]) =>
  seedWrites({
    subject: 'u-1',
    now,
    buckets: [{ bucket, usage, sessions: [], firstUseStart: null }],
    watermark: null,
    generation: '',
  })[0];

describe('seed writes of a request bucket rebuilt from rollups', () => {
  const rolled = [
    { at: now - 3 * HOUR - 1, amount: 7, requestId: 'rollup:hour:1' },
    { at: now - 2 * HOUR - 1, amount: 5, requestId: 'rollup:hour:2' },
    { at: now - 60_000, amount: 1, requestId: 'r-raw' },
  ];

  it('counts a rollup entry as the requests it sums, in a sliced window', () => {
    const bucket: StoreBucket = {
      id: 'user:u-1|*|requests|weekly',
      metric: 'requests',
      counting: { mode: 'slices', lengthMs: 168 * HOUR, sliceMs: 168 * 60_000, floor: 0 },
      limit: 10_000_000,
    };
    const plan = seedOf(bucket, rolled);
    expect(plan?.slices.reduce((n, [, amount]) => n + amount, 0)).toBe(13);
  });

  it('counts a rollup entry as the requests it sums, in a calendar window', () => {
    const bucket: StoreBucket = {
      id: 'user:u-1|*|requests|daily',
      metric: 'requests',
      counting: { mode: 'window', start: now - 10 * HOUR, end: null, def: 'd' },
      limit: 10_000_000,
    };
    expect(seedOf(bucket, rolled)?.counter?.used).toBe(13);
  });
});
