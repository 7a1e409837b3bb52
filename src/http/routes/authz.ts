import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { z } from 'zod';
import type { DecisionResponse } from '../../domain/decision.js';
import { AppError } from '../../domain/errors.js';
import type { AuthorizeInput, DecisionService } from '../../decisions/decision-service.js';
import { decisionOutcome, type Metrics } from '../../ops/metrics.js';
import { quotaTokenHeader, requireRole, type Principal } from '../auth.js';
import { problemDocument, problemSchema } from '../problem.js';
import { authzAdmitted, authzHeaders, QUOTA_HEADERS } from '../schemas/authz.js';
import type { ZodApp } from '../types.js';

export interface AuthzRouteDeps {
  decisions: DecisionService;
  authenticate: (token: string) => Principal | null;
  metrics: Metrics;
  /** AUTHZ_DENY_STATUS: 429, or 403 for nginx's auth_request (which passes only 401 and 403). */
  denyStatus: number;
}

type Headers = z.output<typeof authzHeaders>;

function demandOf(h: Headers): AuthorizeInput {
  return {
    userId: h['x-quota-user'],
    keyId: h['x-quota-key'] ?? null,
    groups: h['x-quota-groups'] ?? [],
    model: h['x-quota-model'] ?? null,
    estimateMicros: h['x-quota-estimated-cost'] ?? 0,
    estimatedInputTokens: 0,
    estimatedOutputTokens: 0,
    sessionId: h['x-quota-session'] ?? null,
    requestId: h['x-request-id'] ?? randomUUID(),
  };
}

/** Proxies fill a missing variable with '' (Caddy placeholders, nginx `$http_…`): absent. */
async function dropEmptyHeaders(request: FastifyRequest): Promise<void> {
  for (const name of QUOTA_HEADERS) {
    const value = request.headers[name];
    if (typeof value === 'string' && value.trim() === '') delete request.headers[name];
  }
}

/** Documented; every other method Fastify routes answers the same (HEAD comes with GET). */
const DOCUMENTED: HTTPMethods[] = ['GET', 'POST'];

/**
 * Forward auth (SPEC §7.1): a reverse proxy asks before it forwards. A thin adapter over the
 * decision service's `authorize`: headers in, a status and headers out (no body when admitted).
 */
export async function authzRoutes(app: ZodApp, deps: AuthzRouteDeps): Promise<void> {
  const refused = new WeakSet<FastifyRequest>();
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // The proxy may pass the client's body along, and its content type: neither is read (a
  // malformed content type would otherwise be a 415 before any parser).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => {
    payload.resume();
    done(null, undefined);
  });
  app.addHook('onRequest', async (request) => {
    request.headers['content-type'] = 'application/octet-stream';
  });
  app.addHook('onRequest', requireRole(deps.authenticate, 'service', quotaTokenHeader));
  app.addHook('preValidation', dropEmptyHeaders);
  // RFC 9110 §11.6.1: every 401 names a scheme, AUTHZ_DENY_STATUS=401 refusals included.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (reply.statusCode === 401 && !reply.hasHeader('www-authenticate'))
      reply.header('www-authenticate', 'Bearer');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const failedOpen = reply.getHeader('x-quota-fail-open') === 'true';
    const outcome = refused.has(request) ? 'refused' : decisionOutcome(reply.statusCode, failedOpen);
    deps.metrics.decisions.inc({ endpoint: '/authz', outcome });
    deps.metrics.decisionDuration.observe({ endpoint: '/authz' }, reply.elapsedTime / 1000);
  });
  app.addHook('onRoute', (route) => {
    Object.assign((route.schema ??= {}), { tags: ['forward-auth'], security: [{ quotaToken: [] }] });
  });

  function send(reply: FastifyReply, response: DecisionResponse, requestId: string) {
    reply.headers(response.headers).header('x-quota-request-id', requestId);
    const { body } = response;
    if (body.allowed) {
      if (body.failOpen) reply.header('x-quota-fail-open', 'true');
      return reply.code(200).send();
    }
    refused.add(reply.request);
    const refusal = new AppError('rate_limited', body.reason ?? 'quota exceeded', {
      requestId,
      retryAfterMs: body.retryAfterMs,
      buckets: body.buckets,
      shadowRefused: body.shadowRefused,
    });
    return reply
      .code(deps.denyStatus)
      .type('application/problem+json')
      .send(problemDocument(refusal, deps.denyStatus));
  }

  const handler = async (request: FastifyRequest<{ Headers: Headers }>, reply: FastifyReply) => {
    const input = demandOf(request.headers);
    return send(reply, await deps.decisions.authorize(input, request.now), input.requestId);
  };
  const schema = {
    summary: 'Forward auth for reverse proxies: admit like /reserve, holding nothing (any method)',
    description:
      'Caddy forward_auth, Traefik ForwardAuth, nginx auth_request, Envoy ext_authz. The request comes ' +
      'in headers; the token in X-Quota-Token. Counts the request and admits the session like /reserve; ' +
      'checks cost against X-Quota-Estimated-Cost without holding it; concurrency limits do not apply. ' +
      'Refused: AUTHZ_DENY_STATUS (429 by default) with Retry-After and the RateLimit headers. A later ' +
      '/settle of X-Quota-Request-Id charges the actual cost and counts no second request. Every method ' +
      'and every path under /authz/ answers the same.',
    headers: authzHeaders,
    response: {
      200: authzAdmitted,
      400: problemSchema,
      401: problemSchema,
      403: problemSchema,
      409: problemSchema,
      429: problemSchema,
      503: problemSchema,
    },
  };
  const others = app.supportedMethods.filter((m) => !DOCUMENTED.includes(m as HTTPMethods) && m !== 'HEAD');
  app.route({ method: DOCUMENTED, url: '/authz', schema, handler });
  app.route({ method: others as HTTPMethods[], url: '/authz', schema: { ...schema, hide: true }, handler });
  app.all('/authz/*', { schema: { ...schema, hide: true } }, handler);
}
