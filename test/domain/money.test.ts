import { describe, expect, it } from 'vitest';
import { microsToUsd, parseUsd } from '../../src/domain/money.js';

/** Dollars as their decimal text says: what a reader of the JSON expects to see. */
const fromText = (micros: number) => {
  const abs = Math.abs(micros);
  const text = `${micros < 0 ? '-' : ''}${Math.floor(abs / 1_000_000)}.${String(abs % 1_000_000).padStart(6, '0')}`;
  return Number(text);
};

describe('micro-dollars shown as dollars', () => {
  it('is the number the decimal text parses to, for edge and random amounts', () => {
    const edges = [
      0,
      1,
      9,
      10,
      99_999,
      100_000,
      999_999,
      1_000_000,
      1_000_001,
      17_300,
      123_456_789,
      2 ** 53 - 1,
    ];
    let seed = 42;
    const random = Array.from({ length: 50_000 }, () => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return (seed % 2 === 0 ? 1 : 4096) * seed;
    });
    for (const micros of [...edges, ...edges.map((m) => -m), ...random, ...random.map((m) => -m)]) {
      expect(microsToUsd(micros), String(micros)).toBe(fromText(micros));
    }
  });

  it('round-trips through the API up to a billion dollars: what it shows parses back to the same micro-dollars', () => {
    for (const micros of [0, 1, 17_300, 20_000, 999_999, 5_000_000_123, 999_999_999_999_999]) {
      expect(parseUsd(microsToUsd(micros))).toEqual({ ok: true, micros });
    }
  });

  it('shows 0.0173 dollars for 17,300 µ$ and 15.2 for 15,200,000', () => {
    expect(JSON.stringify([microsToUsd(17_300), microsToUsd(15_200_000), microsToUsd(-1)])).toBe(
      '[0.0173,15.2,-0.000001]',
    );
  });
});
