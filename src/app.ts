import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import { serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { RedisClient } from './store/redis/client.js';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { AppConfig } from './config.js';
import type { Database } from './db/client.js';
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
import { createDataPlane } from './decisions/data-plane.js';
import { DeliveryWorker } from './alerts/delivery-worker.js';
import { HostPolicy } from './alerts/allowed-hosts.js';
import { OutboxPruner } from './alerts/outbox-retention.js';
import { PartitionMaintainer } from './ledger/ledger-partitions.js';
import { serverTimeouts } from './http/server-timeouts.js';
import { registerSwagger } from './http/swagger.js';
import { decisionLanes } from './http/schemas/fast-lanes.js';
import { createValidatorCompiler } from './http/validation.js';
import { createMetrics } from './ops/metrics.js';
import { withSafeErrors } from './ops/error-log.js';
import type { ZodApp } from './http/types.js';
import { ConfigSync } from './snapshot/config-sync.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** This instance's config snapshot holder. */
    configSync: ConfigSync;
  }
}

export interface AppDeps {
  config: AppConfig;
  database: Database;
  /** null: embedded mode (in-process counters, config polling only). */
  redis: RedisClient | null;
  clock: Clock;
  logger: Logger;
  tokens: ResolvedTokens;
  /** Tests turn pub/sub off to prove polling alone propagates config. */
  configPubSub?: boolean;
}

/**
 * Builds the app without listening: infrastructure band (errors, time, swagger), then
 * services (config snapshot), then routes. The caller owns the database and Redis.
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

  const metrics = createMetrics();
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

  const sync = new ConfigSync({
    db: database.db,
    clock,
    logger,
    pollSeconds: config.CONFIG_POLL_SECONDS,
    redis: deps.configPubSub === false ? null : redis,
    channel: `${config.REDIS_KEY_PREFIX}:config`,
  });
  await sync.start();
  app.decorate('configSync', sync);
  app.addHook('onClose', () => sync.stop());

  const authenticate = createAuthenticator(deps.tokens);
  const plane = createDataPlane({ metrics, config, database, redis, logger, snapshot: () => sync.current() });
  metrics.bindSources({
    configVersion: () => sync.current().version,
    snapshotLoadedAt: () => sync.current().loadedAt,
    now: () => clock.now(),
    openHolds: (now) => plane.holds.count(now),
  });
  app.addHook('onClose', () => plane.close());
  await plane.checked;
  const deliveries = new DeliveryWorker({
    db: database.db,
    clock,
    logger,
    metrics,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    retryHours: config.WEBHOOK_RETRY_HOURS,
    hosts: new HostPolicy(config.WEBHOOK_ALLOWED_HOSTS),
  });
  deliveries.start();
  // Before the caller closes the database: outcomes of attempts in flight are written first.
  app.addHook('onClose', () => deliveries.stop());
  // Migrations ran before buildApp: the ledger's months ahead exist from here on.
  const partitions = new PartitionMaintainer({ db: database.db, clock, logger });
  partitions.start();
  app.addHook('onClose', () => partitions.stop());
  const pruner = new OutboxPruner({
    db: database.db,
    clock,
    logger,
    retentionDays: config.WEBHOOK_RETENTION_DAYS,
  });
  pruner.start();
  app.addHook('onClose', () => pruner.stop());
  await app.register(opsRoutes, { database, redis, sync, metrics, health: plane.health });
  await app.register(decisionRoutes, { ...plane.services, authenticate, metrics });
  await app.register(authzRoutes, {
    decisions: plane.services.decisions,
    authenticate,
    metrics,
    denyStatus: config.AUTHZ_DENY_STATUS,
  });
  await app.register(adminRoutes, { prefix: '/admin', db: database.db, sync, authenticate, config });
  // Static files of the operator console (no token: its data comes from /admin).
  await app.register(consoleRoutes, {});
  return app;
}
