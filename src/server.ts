import { pino } from 'pino';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { loadOrCreateTokens } from './http/token-file.js';
import { openInfrastructure } from './infrastructure.js';
import { LOG_SERIALIZERS } from './ops/error-log.js';

const SHUTDOWN_DEADLINE_MS = 10_000;

/** Process entry: config → stores → app → listen → graceful shutdown. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = pino({
    level: config.LOG_LEVEL,
    redact: ['req.headers.authorization'],
    serializers: LOG_SERIALIZERS,
  });
  const { tokens, file } = loadOrCreateTokens(config);
  for (const { role, token } of tokens.generated) {
    // Printed once to the terminal, never through the logger; later starts read it from the file.
    process.stderr.write(
      `quotagate: no ${role.toUpperCase()}_TOKENS set; generated one, kept in ${file} and shown only now: ${token}\n`,
    );
  }
  if (tokens.kept.length > 0) {
    const unset = tokens.kept.map((role) => `${role.toUpperCase()}_TOKENS`).join(', ');
    logger.info({ file, roles: tokens.kept }, `${unset} unset: using the tokens kept in the token file`);
  }
  if (config.QUOTA_TEST_CLOCK) logger.warn('QUOTA_TEST_CLOCK=true: X-Quota-Test-Now overrides the clock');
  const infra = await openInfrastructure(config, logger);
  const app = await buildApp({ ...infra, config, logger, tokens });
  await app.listen({ port: config.PORT, host: config.HOST });

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error('shutdown deadline passed; exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    void app
      .close()
      .then(() => infra.close())
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  // Node ends the process on one anyway; this says why in the log operators collect, not only on stderr.
  process.once('unhandledRejection', (err: unknown) => {
    logger.fatal({ err }, 'unhandled rejection (a bug): exiting for the orchestrator to restart');
    process.exit(1);
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
  process.stderr.write(`quotagate: failed to start: ${message}\n`);
  process.exit(1);
});
