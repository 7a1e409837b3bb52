import { describe, expect, it } from 'vitest';
import {
  coarsestLevel,
  coverRange,
  rollupLevels,
  SLICE_MS,
  sliceRowCount,
  type SliceRange,
} from '../../src/ledger/rollup-slices.js';

const MIN = SLICE_MS.minute;
const HOUR = SLICE_MS.hour;
const DAY = SLICE_MS.day;
const t0 = Date.UTC(2026, 0, 10);

function contiguous(from: number, rawFrom: number, slices: SliceRange[]) {
  let cursor = Math.floor(from / MIN) * MIN;
  for (const s of slices) {
    expect(s.from).toBe(cursor);
    // Whole slices only: one reaching past rawFrom would count the raw edge twice.
    expect([s.from % SLICE_MS[s.level], s.to % SLICE_MS[s.level]]).toEqual([0, 0]);
    cursor = s.to;
  }
  expect(cursor).toBe(rawFrom);
}

describe('coverRange', () => {
  it('covers a 30-day window with whole slices from the minute holding its start to the raw tail', () => {
    const from = t0 + 17 * MIN + 5_000;
    const now = from + 30 * DAY + 3 * HOUR + 7 * MIN;
    const cover = coverRange(from, now - 15 * MIN, 'day');
    contiguous(from, cover.rawFrom, cover.slices);
    expect(cover.slices[0]!.from).toBeLessThanOrEqual(from);
    expect(cover.rawFrom).toBeLessThanOrEqual(now - 15 * MIN);
    expect(sliceRowCount(cover)).toBeLessThan(59 + 23 + 31 + 23 + 59);
  });

  it('reads the same number of rows for a year as the bound allows, not one per settle', () => {
    const from = t0 + 123_456;
    const cover = coverRange(from, from + 365 * DAY, 'day');
    contiguous(from, cover.rawFrom, cover.slices);
    expect(sliceRowCount(cover)).toBeLessThanOrEqual(59 + 23 + 365 + 23 + 59);
  });

  it('keeps slices no longer than the allowed level', () => {
    const cover = coverRange(t0 + 5 * MIN, t0 + 3 * DAY, coarsestLevel(3 * DAY));
    expect(coarsestLevel(3 * DAY)).toBe('hour');
    expect(cover.slices.every((s) => s.level !== 'day')).toBe(true);
    contiguous(t0 + 5 * MIN, cover.rawFrom, cover.slices);
  });

  it('never lets an hour slice reach into the raw tail of a window starting on the hour', () => {
    const from = t0 + 5 * HOUR;
    const cover = coverRange(from, from + 9 * HOUR + 29 * MIN, 'day');
    contiguous(from, cover.rawFrom, cover.slices);
    expect(cover.slices.map((sl) => sl.level)).toEqual(['hour', 'minute']);
  });

  it('leaves a range shorter than a minute to raw rows', () => {
    const cover = coverRange(t0 + 10_000, t0 + 20_000, 'day');
    expect(cover.slices).toEqual([]);
    expect(cover.rawFrom).toBe(t0);
  });
});

describe('coarsestLevel', () => {
  it('picks the largest slice of at most a sixtieth of the window', () => {
    expect(coarsestLevel(30 * MIN)).toBe('minute');
    expect(coarsestLevel(60 * HOUR)).toBe('hour');
    expect(coarsestLevel(60 * DAY)).toBe('day');
  });
});

describe('rollupLevels', () => {
  it('names the levels a window of the slot can read: none longer than its length', () => {
    expect(rollupLevels('user:u-1|g1|requests|1m')).toEqual(['minute']);
    expect(rollupLevels('user:u-1|g1|cost|90s')).toEqual(['minute']);
    expect(rollupLevels('user:u-1|g1|cost|5h')).toEqual(['minute', 'hour']);
    expect(rollupLevels('key:k-1|*|tokens|daily')).toEqual(['minute', 'hour', 'day']);
    expect(rollupLevels('user:u-1|*|cost|weekly')).toEqual(['minute', 'hour', 'day']);
    expect(rollupLevels('user:u-1|*|cost|monthly')).toEqual(['minute', 'hour', 'day']);
  });

  it('gives a total window every level (a reset marker reads slices from it on), and so an unknown slot', () => {
    expect(rollupLevels('user:u-1|*|cost|total')).toEqual(['minute', 'hour', 'day', 'all']);
    expect(rollupLevels('user:u-1|*|mixed')).toEqual(['minute', 'hour', 'day', 'all']);
  });

  it('reads no slice longer than the window from any range the window can span', () => {
    for (const [key, length] of [
      ['user:u|*|cost|5h', 5 * HOUR],
      ['user:u|*|cost|45m', 45 * MIN],
      ['user:u|*|cost|daily', DAY],
    ] as const) {
      for (const offset of [0, 17 * MIN + 5_000, 3 * HOUR + 1]) {
        const from = t0 + offset;
        const cover = coverRange(from, from + length, 'day');
        for (const s of cover.slices) expect(rollupLevels(key)).toContain(s.level);
      }
    }
  });
});
