import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { buildApp } from './app.js';
import { systemClock } from './clock.js';
import { loadConfig } from './config.js';
import { openPglite } from './db/client.js';
import { applyMigrations } from './db/migrate.js';
import { resolveTokens } from './http/auth.js';

/**
 * `npm run openapi` writes openapi/openapi.json from the routes' zod schemas;
 * `--check` fails when the committed file differs from a fresh generation.
 */
const target = fileURLToPath(new URL('../openapi/openapi.json', import.meta.url));
const config = loadConfig({
  NODE_ENV: 'test',
  ADMIN_TOKENS: 'doc:openapi-admin',
  SERVICE_TOKENS: 'doc:openapi-service',
});
const database = await openPglite('memory://');
await applyMigrations(database);
const logger = pino({ level: 'silent' });
const app = await buildApp({
  config,
  database,
  redis: null,
  clock: systemClock,
  logger,
  tokens: resolveTokens(config),
});
await app.ready();
const document = `${JSON.stringify(app.swagger(), null, 2)}\n`;
await app.close();
await database.close();

if (process.argv.includes('--check')) {
  const committed = readFileSync(target, 'utf8');
  if (committed !== document) {
    console.error('openapi/openapi.json is out of date: run `npm run openapi` and commit it');
    process.exit(1);
  }
  console.log('openapi/openapi.json is up to date');
} else {
  writeFileSync(target, document);
  console.log(`wrote ${target}`);
}
