import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import { serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { createAuthenticator, type ResolvedTokens } from './http/auth.js';
import { registerBodyLimitDrain } from './http/body-limit-drain.js';
import { registerBodyParsing } from './http/body-parsing.js';
import { registerErrorHandling } from './http/problem.js';
import { registerRequestTime } from './http/request-time.js';
import { adminRoutes } from './http/routes/admin/index.js';
import { authzRoutes } from './http/routes/authz.js';
import { consoleRoutes } from './http/routes/console.js';
import { decisionRoutes } from './http/routes/decisions.js';
import { opsRoutes } from './http/routes/ops.js';
import { composeServices, type ServiceDeps } from './compose.js';
import { serverTimeouts } from './http/server-timeouts.js';
import { registerSwagger } from './http/swagger.js';
import { decisionLanes } from './http/schemas/fast-lanes.js';
import { createValidatorCompiler } from './http/validation.js';
import { withSafeErrors } from './ops/error-log.js';
import type { ZodApp } from './http/types.js';
import type { BackgroundJobs } from './ops/background-jobs.js';
import type { ConfigSync } from './snapshot/config-sync.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** This instance's config snapshot holder. */
    configSync: ConfigSync;
    /** This instance's background loops and buffers (compose.ts registers them). */
    backgroundJobs: BackgroundJobs;
  }
}

/** The infrastructure the caller opened (compose.ts' ServiceDeps) and the API tokens. */
export interface AppDeps extends ServiceDeps {
  tokens: ResolvedTokens;
}

/**
 * Builds the app without listening: infrastructure band (errors, time, swagger), then the
 * services (compose.ts), then routes. The background jobs start once the app is ready
 * (listen, inject, ready) and stop, last registered first, when it closes. The caller owns
 * the database, Redis and the clock, and closes them after the app.
 */
export async function buildApp(deps: AppDeps): Promise<ZodApp> {
  const { config, database, redis, clock } = deps;
  // Whatever logger the caller gives, no query parameter or secret reaches its lines.
  const logger = withSafeErrors(deps.logger);
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: config.BODY_LIMIT_BYTES,
    ...serverTimeouts(config.REQUEST_TIMEOUT_MS),
    // A member id is up to 256 UTF-16 units; percent-encoded, each is at most 9 characters
    // (3 UTF-8 bytes as %XX), so 2304 fits any id whichever form the router measures. The
    // schema (userId, ≤ 256) judges the decoded value; the default 100 made ids 101–256 a 414.
    routerOptions: { maxParamLength: 2304 },
    // Per-request log lines cost more than a decision; durations go to /metrics instead.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(createValidatorCompiler(decisionLanes));
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandling(app);
  registerBodyParsing(app);
  registerBodyLimitDrain(app, config.BODY_LIMIT_BYTES);
  registerRequestTime(app, clock, config.QUOTA_TEST_CLOCK);
  await registerSwagger(app);

  const { metrics, sync, health, services, jobs } = composeServices({ ...deps, logger });
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });

  app.decorate('configSync', sync);
  app.decorate('backgroundJobs', jobs);
  app.addHook('onReady', () => jobs.start());
  app.addHook('onClose', () => jobs.stop());

  const authenticate = createAuthenticator(deps.tokens);
  await app.register(opsRoutes, { database, redis, sync, metrics, health });
  await app.register(decisionRoutes, { ...services, authenticate, metrics });
  await app.register(authzRoutes, {
    decisions: services.decisions,
    authenticate,
    metrics,
    denyStatus: config.AUTHZ_DENY_STATUS,
  });
  await app.register(adminRoutes, { prefix: '/admin', db: database.db, sync, authenticate, config });
  // Static files of the operator console (no token: its data comes from /admin).
  await app.register(consoleRoutes, {});
  return app;
}
