import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN_TOKEN, SERVICE_TOKEN } from '../support/app.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { describeWithServers, services, useRedisPrefix, useTestDatabase } from '../support/services.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The examples/ admin script, typed from the committed OpenAPI document, against a running server. */
describeWithServers('typed admin client example', () => {
  const databaseUrl = useTestDatabase();
  const prefix = useRedisPrefix();
  let server: ServerProcess;

  beforeAll(async () => {
    await run('npm', ['run', '--silent', 'example:types'], { cwd: ROOT });
    server = await startServerProcess({
      DATABASE_URL: databaseUrl(),
      REDIS_URL: services.redisUrl ?? '',
      REDIS_KEY_PREFIX: prefix,
    });
  }, 60_000);
  afterAll(() => server?.stop());

  it('creates a model group, a user group, limits and a boost, then reads usage', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/admin-client.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        QUOTAGATE_URL: server.url,
        QUOTAGATE_ADMIN_TOKEN: ADMIN_TOKEN,
        QUOTAGATE_SERVICE_TOKEN: SERVICE_TOKEN,
      },
    });
    expect(stdout).toContain('✓ model group "opus"');
    expect(stdout).toContain('✓ limit requests 1m');
    expect(stdout).toMatch(/user:u-42\|g\d+\|cost\|5h: used 0 of 15 \(cap 10 \+ boost 5\)/);
    expect(stdout).toMatch(/user:u-42\|\*\|requests\|1m: used 0 of 60/);
  }, 60_000);
});
