import type { Problem, ProblemCode } from './types.js';

/** Every error the client throws; `instanceof QuotaError` catches them all. */
export class QuotaError extends Error {
  override name = 'QuotaError';
}

/**
 * quotagate answered, and the answer is an error that retrying will not change: a 4xx (bad
 * input, wrong token, unknown or closed reservation, idempotency conflict), a 5xx other than
 * "unavailable", or a reply that is not the expected JSON.
 */
export class QuotaRequestError extends QuotaError {
  override name = 'QuotaRequestError';
  /** The problem document's machine code; null when the answer was not a problem document. */
  readonly code: ProblemCode | null;
  /** The fields a validation failure names (`validation_failed`), else []. */
  readonly errors: { field: string; message: string }[];

  constructor(
    readonly operation: string,
    readonly status: number,
    readonly problem: Problem | null,
  ) {
    super(
      `quotagate ${operation}: ${status} ${problem ? `${problem.code}: ${problem.detail}` : 'unexpected answer'}`,
    );
    this.code = problem?.code ?? null;
    this.errors = problem?.errors ?? [];
  }
}

/**
 * quotagate could not be reached after every attempt: network errors, per-attempt timeouts
 * or 502/503/504 answers. `cause` is the last attempt's failure (a QuotaRequestError for an
 * answered 503, the fetch or timeout error otherwise).
 */
export class QuotaUnavailableError extends QuotaError {
  override name = 'QuotaUnavailableError';

  constructor(
    readonly operation: string,
    readonly attempts: number,
    cause: unknown,
  ) {
    super(`quotagate ${operation}: unavailable after ${attempts} attempt(s): ${describe(cause)}`, { cause });
  }
}

function describe(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = cause.cause instanceof Error ? ` (${cause.cause.message})` : '';
  return `${cause.message}${inner}`;
}
