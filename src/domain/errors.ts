/**
 * The closed list of machine-readable error codes. A code is never reused for another
 * meaning; the HTTP status of each is fixed here and mapped to problem+json in one place.
 */
export const ERROR_STATUS = {
  validation_failed: 400,
  malformed_json: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  route_not_found: 404,
  method_not_allowed: 405,
  name_conflict: 409,
  model_conflict: 409,
  idempotency_conflict: 409,
  reservation_closed: 409,
  /** A refusal at /authz, sent with AUTHZ_DENY_STATUS (429, 403 or 401), never thrown. */
  rate_limited: 429,
  payload_too_large: 413,
  unsupported_media_type: 415,
  /** Another 4xx of the framework (a failed precondition, an unsatisfiable range), sent with its own status. */
  request_refused: 400,
  internal_error: 500,
  store_unavailable: 503,
  database_unavailable: 503,
  store_misconfigured: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface FieldError {
  field: string;
  message: string;
}

/** A failure with a stable code; `extra` members are added to the problem document. */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly errors: FieldError[] = [],
  ) {
    super(message);
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export const notFound = (what: string, id: string | number) =>
  new AppError('not_found', `${what} ${id} does not exist`);

export const invalid = (field: string, message: string) =>
  new AppError('validation_failed', `${field}: ${message}`, {}, [{ field, message }]);

/** The server's reply goes to the log only: it names hosts, slots and keys. */
export const storeMisconfigured = () =>
  new AppError(
    'store_misconfigured',
    'the counter store answered with a configuration error; see the service log',
  );
