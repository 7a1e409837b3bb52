/** Translating driver errors into facts the service acts on, without matching message text. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);

interface Coded {
  code?: unknown;
  constraint?: unknown;
  cause?: unknown;
}

/** Drizzle wraps driver errors; walk the cause chain to the first that carries a code. */
function* causes(err: unknown): Generator<Coded> {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    yield current as Coded;
    current = (current as Coded).cause;
  }
}

export function isDatabaseUnavailable(err: unknown): boolean {
  for (const e of causes(err)) {
    if (typeof e.code === 'string' && UNAVAILABLE_CODES.has(e.code)) return true;
    // node-postgres reports a dropped or refused connection without a code.
    if (
      e instanceof Error &&
      /^(Connection terminated|timeout exceeded when trying to connect)/.test(e.message)
    ) {
      return true;
    }
  }
  return false;
}

/** The constraint a unique violation (23505) hit, or null for any other error. */
export function uniqueViolation(err: unknown): string | null {
  for (const e of causes(err)) {
    if (e.code === '23505') return typeof e.constraint === 'string' ? e.constraint : '';
  }
  return null;
}

/** A foreign-key violation (23503): a referenced row vanished under us. */
export function foreignKeyViolation(err: unknown): boolean {
  for (const e of causes(err)) if (e.code === '23503') return true;
  return false;
}

/** The SQLSTATE of the first PostgreSQL error in the chain, or null. */
export function sqlState(err: unknown): string | null {
  for (const e of causes(err)) if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
  return null;
}

/**
 * PostgreSQL refused a row's values: a data exception (class 22, e.g. a NUL in text) or an
 * integrity violation (class 23). The same row is refused on every retry; anything else
 * (a lost connection, a deadlock, a timeout) may pass next time.
 */
export function isRowRefusal(err: unknown): boolean {
  const state = sqlState(err);
  return state !== null && (state.startsWith('22') || state.startsWith('23'));
}
