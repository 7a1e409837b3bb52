/**
 * Money is integer micro-dollars inside quotagate (1 USD = 1,000,000 µ$). Dollars arrive as
 * a JSON number or a decimal string with at most 6 decimals and are parsed from their
 * decimal text, never through float arithmetic.
 */
export const MICROS_PER_USD = 1_000_000;

export type MoneyParse = { ok: true; micros: number } | { ok: false; message: string };

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

export function parseUsd(value: number | string): MoneyParse {
  if (typeof value === 'number' && !Number.isFinite(value)) return fail('must be a finite number');
  const text = typeof value === 'number' ? numberToPlain(value) : value.trim();
  const match = DECIMAL.exec(text);
  if (!match) return fail('must be a decimal number of dollars');
  const [, sign, whole = '', fraction = ''] = match;
  if (fraction.length > 6) return fail('must have at most 6 decimals');
  const micros = Number(whole) * MICROS_PER_USD + Number(fraction.padEnd(6, '0'));
  if (!Number.isSafeInteger(micros)) return fail('is too large');
  return { ok: true, micros: sign === '-' && micros !== 0 ? -micros : micros };
}

/**
 * µ$ → dollars as a JSON number, exact to 6 decimals. IEEE division is correctly rounded,
 * so for a safe integer this is the double nearest to the decimal `w.ffffff`, the very number
 * parsing that text gives (test/unit/money.test.ts); it is only ever shown, never summed.
 */
export function microsToUsd(micros: number): number {
  return micros / MICROS_PER_USD + 0; // + 0: never a -0
}

/** An amount as the API shows it: dollars for cost (stored in µ$), counts and tokens as they are. */
export const apiAmount = (metric: string, value: number): number =>
  metric === 'cost' ? microsToUsd(value) : value;

/** A number's shortest round-trip text, without exponent (1e-7 → "0.0000001"). */
function numberToPlain(value: number): string {
  const text = String(value);
  if (!/e/i.test(text)) return text;
  return value.toFixed(20).replace(/\.?0+$/, '');
}

function fail(message: string): MoneyParse {
  return { ok: false, message };
}
