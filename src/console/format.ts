/**
 * The console's only formatters for money, amounts and times, so that every page shows
 * `$2.50` beside `$0.50` (never `$0.5000`) and every time carries its zone.
 */

// en-US for the `$` sign in every browser locale (others write `US$`); cents always,
// more decimals only when the amount has them (a token's price: $0.000173).
const USD = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  minimumFractionDigits: 2,
  maximumFractionDigits: 6,
});

const COUNT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/** Dollars as the API gives them → `$2.50`, `$0.000173`, `$1,500.00`. */
export function money(usd: number): string {
  return USD.format(usd);
}

/** An amount of a metric: dollars for `cost`, else a count. */
export function amount(metric: string, n: number): string {
  return metric === 'cost' ? money(n) : COUNT.format(n);
}

// The browser's zone, named by its abbreviation (CET) or offset (GMT+1) as its locale does.
const PARTS = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
  timeZoneName: 'short',
});

interface Stamp {
  day: string;
  /** `14:05 CET` */
  time: string;
  zone: string;
}

function stamp(d: Date): Stamp {
  const part: Record<string, string> = {};
  for (const p of PARTS.formatToParts(d)) part[p.type] = p.value;
  return {
    day: `${part.year}-${part.month}-${part.day}`,
    time: `${part.hour}:${part.minute} ${part.timeZoneName}`,
    zone: part.timeZoneName ?? '',
  };
}

/** `2027-01-04 14:05 CET`; `—` for none; unparsable text as given. */
export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const s = stamp(d);
  return `${s.day} ${s.time}`;
}

/** `14:05 CET` when it is today, else the date too. */
export function clock(iso: string, now = new Date()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const s = stamp(d);
  return s.day === stamp(now).day ? s.time : `${s.day} ${s.time}`;
}

/** The browser's zone as the times show it (`CET`), for labels of local-time inputs. */
export function localZone(now = new Date()): string {
  return stamp(now).zone;
}
