/**
 * Money is integer micro-dollars inside quotagate (1 USD = 1,000,000 µ$). Dollars arrive as
 * a JSON number or a decimal string and are parsed from their decimal text, never through
 * float arithmetic. Admin amounts take at most 6 decimals (`parseUsd`); data-plane amounts
 * come from gateways that multiply floats and are rounded half up (`parseSpentUsd`, SPEC §1).
 */
export const MICROS_PER_USD = 1_000_000;

export type MoneyParse = { ok: true; micros: number } | { ok: false; message: string };

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

interface Decimal {
  negative: boolean;
  whole: string;
  fraction: string;
}

/** An admin amount: exact, at most 6 decimals, any sign (the caller judges the sign). */
export function parseUsd(value: number | string): MoneyParse {
  const decimal = decimalOf(value);
  if (!('whole' in decimal)) return decimal;
  if (decimal.fraction.length > 6) return fail('must have at most 6 decimals');
  return toMicros(decimal, false);
}

/**
 * A data-plane amount (`costUsd`, `estimatedCostUsd`, `X-Quota-Estimated-Cost`): any finite
 * value ≥ 0, to the nearest µ$ with halves rounded up. A number is read from its shortest
 * round-trip text, so 0.30000000000000004 is 300000 µ$ and 0.0000005 is 1 µ$ (the double
 * itself is a hair below the half, but the gateway meant the half).
 */
export function parseSpentUsd(value: number | string): MoneyParse {
  const decimal = decimalOf(value);
  if (!('whole' in decimal)) return decimal;
  if (decimal.negative && /[1-9]/.test(decimal.whole + decimal.fraction)) return fail('must be ≥ 0');
  return toMicros(decimal, true);
}

function decimalOf(value: number | string): Decimal | { ok: false; message: string } {
  if (typeof value === 'number' && !Number.isFinite(value)) return fail('must be a finite number');
  const text = typeof value === 'number' ? numberToPlain(value) : value.trim();
  const match = DECIMAL.exec(text);
  if (!match) return fail('must be a decimal number of dollars');
  const [, sign, whole = '', fraction = ''] = match;
  return { negative: sign === '-', whole, fraction };
}

function toMicros({ negative, whole, fraction }: Decimal, round: boolean): MoneyParse {
  const up = round && fraction.length > 6 && fraction.charCodeAt(6) >= 0x35; // '5'..'9'
  const micros = Number(whole) * MICROS_PER_USD + Number(fraction.slice(0, 6).padEnd(6, '0')) + (up ? 1 : 0);
  if (!Number.isSafeInteger(micros)) return fail('is too large');
  return { ok: true, micros: negative && micros !== 0 ? -micros : micros };
}

/**
 * µ$ → dollars as a JSON number, exact to 6 decimals. IEEE division is correctly rounded,
 * so for a safe integer this is the double nearest to the decimal `w.ffffff`, the very number
 * parsing that text gives (test/domain/money.test.ts); it is only ever shown, never summed.
 */
export function microsToUsd(micros: number): number {
  return micros / MICROS_PER_USD + 0; // + 0: never a -0
}

/** An amount as the API shows it: dollars for cost (stored in µ$), counts and tokens as they are. */
export const apiAmount = (metric: string, value: number): number =>
  metric === 'cost' ? microsToUsd(value) : value;

/**
 * A number's shortest round-trip text without exponent (1e-7 → "0.0000001",
 * 1.5e+21 → "1500000000000000000000"): the digits JavaScript prints, the point moved.
 */
function numberToPlain(value: number): string {
  const text = String(value);
  const match = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!match) return text;
  const [, sign = '', lead = '', rest = '', exp = '0'] = match;
  const digits = lead + rest;
  const point = 1 + Number(exp); // digits before the decimal point
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return sign + digits + '0'.repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

function fail(message: string): { ok: false; message: string } {
  return { ok: false, message };
}
