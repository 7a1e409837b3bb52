import type { Logger } from 'pino';

/**
 * What a log line says of an error (pino's `err`): its type, code, SQLSTATE, table and
 * constraint, and a message — never a query's text or parameters (drizzle's "Failed query:
 * … params: …" carries every row of a batch, and a webhook's secret), never a `whsec_`
 * secret. PostgreSQL's own `detail` ("Key (request_id)=(…)") is left out for the same reason.
 */
export interface LoggedError {
  type: string;
  message: string;
  code?: string;
  statusCode?: number;
  reason?: string;
  table?: string;
  constraint?: string;
  column?: string;
  stack?: string;
  cause?: LoggedError;
}

const MAX_MESSAGE = 500;
const MAX_DEPTH = 4;
const SECRET = /whsec_[A-Za-z0-9+/=_-]*/g;
const NAMED = ['code', 'reason', 'table', 'constraint', 'column'] as const;

const scrub = (text: string) => text.replace(SECRET, 'whsec_[redacted]').slice(0, MAX_MESSAGE);

/** drizzle's DrizzleQueryError (and any wrapper like it): the statement and its values. */
const isQueryWrapper = (err: Error) => 'query' in err && 'params' in err;

/** A PostgreSQL error: its SQLSTATE and severity come from the server. */
function isServerError(err: Error): err is Error & { code: string } {
  const e = err as Partial<Record<'code' | 'severity', unknown>>;
  return typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === 'string';
}

function messageOf(err: Error): string {
  if (isQueryWrapper(err)) return 'query failed';
  // A data exception names the offending value after a colon ('invalid input syntax for type
  // integer: "abc"'): only the kind of problem is kept.
  if (isServerError(err) && err.code.startsWith('22')) return scrub(err.message.split(': ')[0] ?? '');
  return scrub(err.message);
}

/** The call frames only: a stack's first lines repeat the message, a query's with it. */
const framesOf = (stack: string | undefined) =>
  stack
    ?.split('\n')
    .filter((line) => /^\s+at /.test(line))
    .join('\n');

function describe(err: Error, depth: number): LoggedError {
  const fields = err as unknown as Record<string, unknown>;
  // drizzle's wrapper keeps the name "Error", pg's DatabaseError calls itself "error".
  const type = err.constructor.name !== 'Error' ? err.constructor.name : err.name;
  const logged: LoggedError = { type, message: messageOf(err) };
  for (const key of NAMED) {
    const value = fields[key];
    if (typeof value === 'string') logged[key] = scrub(value);
  }
  if (typeof fields.statusCode === 'number') logged.statusCode = fields.statusCode;
  const stack = framesOf(err.stack);
  if (stack) logged.stack = stack;
  if (depth < MAX_DEPTH && err.cause instanceof Error) logged.cause = describe(err.cause, depth + 1);
  return logged;
}

export function serializeError(err: unknown): unknown {
  if (err instanceof Error) return describe(err, 0);
  return typeof err === 'string' ? scrub(err) : err;
}

export const LOG_SERIALIZERS = { err: serializeError };

/** The logger every part of the app writes through: errors go out as serializeError says. */
export function withSafeErrors(logger: Logger): Logger {
  return logger.child({}, { serializers: LOG_SERIALIZERS });
}
