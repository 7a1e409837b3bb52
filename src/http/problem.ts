import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isDatabaseUnavailable } from '../db/errors.js';
import {
  AppError,
  ERROR_STATUS,
  storeMisconfigured,
  type ErrorCode,
  type FieldError,
} from '../domain/errors.js';
import { StoreMisconfiguredError, StoreUnavailableError } from '../store/store-errors.js';

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
  payload_too_large: 'Body too large',
  unsupported_media_type: 'Unsupported media type',
  internal_error: 'Internal error',
  store_unavailable: 'Counter store unavailable',
  database_unavailable: 'Database unavailable',
  store_misconfigured: 'Counter store misconfigured',
};

export function sendProblem(reply: FastifyReply, error: AppError): FastifyReply {
  const body = {
    type: `urn:quotagate:problem:${error.code}`,
    title: TITLES[error.code],
    status: error.status,
    detail: error.message,
    code: error.code,
    ...(error.errors.length > 0 ? { errors: error.errors } : {}),
    ...error.extra,
  };
  if (error.status === 503) reply.header('retry-after', '1');
  return reply.code(error.status).type('application/problem+json').send(body);
}

/** Maps every failure to a problem document; 5xx details go to the log only. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const errors: FieldError[] = err.validation.flatMap((v) => {
      // A strict object's unknown keys: name each key as the field, not the object holding it.
      const keys = v.keyword === 'unrecognized_keys' ? (v.params as { keys?: unknown }).keys : undefined;
      if (Array.isArray(keys) && keys.length > 0) {
        const parent = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
        return keys.map((k) => ({
          field: parent ? `${parent}.${String(k)}` : String(k),
          message: 'unknown field',
        }));
      }
      return [{ field: fieldOf(err.validationContext, v.instancePath), message: v.message ?? 'is invalid' }];
    });
    const detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    return new AppError('validation_failed', detail, {}, errors);
  }
  if (err instanceof StoreUnavailableError) return new AppError('store_unavailable', err.message);
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
  if (status === 400 && err instanceof Error) return new AppError('validation_failed', err.message);
  return new AppError('internal_error', 'an internal error occurred');
}

/** `/body/limit` on the body context → `limit`; a querystring field keeps its name. */
function fieldOf(context: string | undefined, instancePath: string): string {
  const path = instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (path !== '') return path;
  return context ?? 'body';
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const problem = toAppError(err);
    if (problem.status >= 500) request.log.error({ err }, 'request failed');
    return sendProblem(reply, problem);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      new AppError('route_not_found', `no route ${request.method} ${request.url.split('?')[0]}`),
    ),
  );
}
