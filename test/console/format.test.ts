import { describe, expect, it } from 'vitest';
import { amount, money } from '../../src/console/format.js';

/** The console's one money format: cents always, more decimals only when the amount has them. */
describe('console money', () => {
  it.each([
    [2.5, '$2.50'],
    [0.5, '$0.50'],
    [15, '$15.00'],
    [0.000173, '$0.000173'],
    [1.2345, '$1.2345'],
    [1500, '$1,500.00'],
    [0, '$0.00'],
  ])('shows %s dollars as %s', (usd, text) => {
    expect(money(usd)).toBe(text);
  });

  it('shows dollars for cost and plain counts for every other metric', () => {
    expect(amount('cost', 10)).toBe('$10.00');
    expect(amount('sessions', 3)).toBe('3');
    expect(amount('tokens', 12_000)).toBe('12,000');
  });
});
