import { pino } from 'pino';
import { loadConfig } from '../config.js';
import { openPglite, openPostgres } from './client.js';
import { applyMigrations } from './migrate.js';

/** `npm run migrate`: applies the committed migrations to DATABASE_URL (or the embedded store). */
const config = loadConfig();
const logger = pino({ level: config.LOG_LEVEL });
const database = config.DATABASE_URL
  ? openPostgres(config.DATABASE_URL, 1)
  : await openPglite(config.DATA_DIR);
try {
  await applyMigrations(database);
  logger.info({ target: config.DATABASE_URL ? 'postgres' : config.DATA_DIR }, 'migrations applied');
} finally {
  await database.close();
}
