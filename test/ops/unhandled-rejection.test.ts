import { afterAll, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { describeWithServers, services, useRedisPrefix, useTestDatabase } from '../support/services.js';

describeWithServers('an unhandled rejection in the server process', () => {
  const databaseUrl = useTestDatabase();
  const prefix = useRedisPrefix();
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.stop('SIGKILL');
  });

  it('is logged at fatal with its error, then ends the process with exit code 1', async () => {
    server = await startServerProcess(
      { DATABASE_URL: databaseUrl(), REDIS_URL: services.redisUrl ?? '', REDIS_KEY_PREFIX: prefix },
      { preload: ['./test/ops/fixtures/reject-on-signal.ts'] },
    );
    const child = server.process;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGUSR2');
    expect(await exited).toBe(1);
    const fatal = server
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; msg: string; err?: { message: string } })
      .find((entry) => entry.level === 60);
    expect(fatal).toMatchObject({ err: { message: 'planted by the test' } });
    expect(fatal?.msg).toMatch(/unhandled rejection/);
  }, 60_000);
});
