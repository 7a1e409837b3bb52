import { pino } from 'pino';
import { buildApp } from './app.js';
import { openInfrastructure } from './compose.js';
import { ConfigError, loadConfig } from './config.js';
import { resolveTokens } from './http/auth.js';

const SHUTDOWN_DEADLINE_MS = 10_000;

/** Process entry: config → stores → app → listen → graceful shutdown. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = pino({ level: config.LOG_LEVEL, redact: ['req.headers.authorization'] });
  const tokens = resolveTokens(config);
  for (const { role, token } of tokens.generated) {
    // Printed once to the terminal, never through the logger.
    process.stderr.write(
      `quotagate: no ${role.toUpperCase()}_TOKENS set; generated for this run: ${token}\n`,
    );
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
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
  process.stderr.write(`quotagate: failed to start: ${message}\n`);
  process.exit(1);
});
