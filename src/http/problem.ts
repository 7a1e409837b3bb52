import type { FastifyError, FastifyInstance, FastifyReply, HTTPMethods } from 'fastify';
import { z } from 'zod';
import { isDatabaseUnavailable } from '../db/errors.js';
import { AppError, ERROR_STATUS, storeMisconfigured, type ErrorCode } from '../domain/errors.js';
import { StoreMisconfiguredError, StoreUnavailableError } from '../store/store-errors.js';
import { RequestValidationError } from './validation.js';

/** RFC 9457 problem documents: the only error body quotagate sends. */
export const problemSchema = z
  .object({
    type: z.string().describe('URI naming the problem type'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z
      .enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]])
      .describe('Stable machine-readable code'),
    errors: z
      .array(z.object({ field: z.string(), message: z.string() }))
      .optional()
      .describe('Each invalid field, for validation failures'),
  })
  .catchall(z.unknown())
  .meta({ id: 'Problem' });

const TITLES: Record<ErrorCode, string> = {
  validation_failed: 'Invalid request',
  malformed_json: 'Malformed JSON body',
  unauthorized: 'Missing or unknown token',
  forbidden: 'Token not allowed here',
  not_found: 'Not found',
  route_not_found: 'No such route',
  method_not_allowed: 'Method not allowed',
  name_conflict: 'Name already in use',
  model_conflict: 'Model belongs to another group',
  idempotency_conflict: 'Request id reused with a different body',
  reservation_closed: 'Reservation already finished',
  rate_limited: 'Quota exceeded',
  payload_too_large: 'Body too large',
  unsupported_media_type: 'Unsupported media type',
  request_refused: 'Request refused',
  internal_error: 'Internal error',
  store_unavailable: 'Counter store unavailable',
  database_unavailable: 'Database unavailable',
  store_misconfigured: 'Counter store misconfigured',
};

/** The document of an error; `status` overrides the code's own (an /authz refusal's AUTHZ_DENY_STATUS). */
export function problemDocument(error: AppError, status: number = error.status) {
  return {
    type: `urn:quotagate:problem:${error.code}`,
    title: TITLES[error.code],
    status,
    detail: error.message,
    code: error.code,
    ...(error.errors.length > 0 ? { errors: error.errors } : {}),
    ...error.extra,
  };
}

export function sendProblem(reply: FastifyReply, error: AppError): FastifyReply {
  const body = problemDocument(error);
  if (error.status === 503) reply.header('retry-after', '1');
  return reply.code(error.status).type('application/problem+json').send(body);
}

/** Maps every failure to a problem document; 5xx details go to the log only. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof RequestValidationError) {
    const errors = err.fieldErrors();
    const detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    return new AppError('validation_failed', detail, {}, errors);
  }
  // Its message names hosts and ports: the log has it.
  if (err instanceof StoreUnavailableError)
    return new AppError('store_unavailable', 'the counter store is unreachable; retry');
  if (err instanceof StoreMisconfiguredError) return storeMisconfigured();
  if (isDatabaseUnavailable(err))
    return new AppError('database_unavailable', 'PostgreSQL is unreachable; retry');
  switch ((err as Partial<FastifyError>).code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large', 'request body exceeds the size limit');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_media_type', 'send application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('malformed_json', 'request body is not valid JSON');
  }
  if (err instanceof SyntaxError) return new AppError('malformed_json', 'request body is not valid JSON');
  const status = (err as Partial<FastifyError>).statusCode;
  if (err instanceof Error && typeof status === 'number' && status >= 400 && status < 500)
    return frameworkRefusal(status, err.message.slice(0, 200));
  // Ours (a driver error, a bug): no detail, whatever its message says (a query, its values).
  return new AppError('internal_error', 'an internal error occurred');
}

/**
 * The stable code of a framework's (or plugin's) 4xx status; any other keeps its status as
 * `request_refused` (401 and 403 too: their codes speak of tokens, a static file's 403 does not).
 */
const FRAMEWORK_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'validation_failed',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

class StatusRefusal extends AppError {
  constructor(
    message: string,
    private readonly refusedWith: number,
  ) {
    super('request_refused', message);
  }

  override get status(): number {
    return this.refusedWith;
  }
}

function frameworkRefusal(status: number, message: string): AppError {
  const code = FRAMEWORK_CODES[status];
  return code ? new AppError(code, message) : new StatusRefusal(message, status);
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const problem = toAppError(err);
    if (problem.status >= 500) request.log.error({ err }, 'request failed');
    return sendProblem(reply, problem);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const allowed = allowedMethods(app, path);
    // A route of this method sent us here (a static file that is not there).
    if (allowed.includes(request.method as HTTPMethods))
      return sendProblem(reply, new AppError('not_found', `nothing at ${path}`));
    if (allowed.length === 0) {
      return sendProblem(reply, new AppError('route_not_found', `no route ${request.method} ${path}`));
    }
    reply.header('allow', allowed.join(', '));
    const problem = `${path} does not take ${request.method}; it takes ${allowed.join(', ')}`;
    return sendProblem(reply, new AppError('method_not_allowed', problem));
  });
}

const METHODS: readonly HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** The methods some route answers on this path (no route of the request's own, or we'd not be here). */
function allowedMethods(app: FastifyInstance, path: string): HTTPMethods[] {
  // findRoute is typed non-null but answers null for no match.
  return METHODS.filter((method) => (app.findRoute({ method, url: path }) as unknown) !== null);
}
