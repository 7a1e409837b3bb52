import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { startServer, type ServerProcess } from './processes.js';
import {
  createDatabase,
  deleteRedisPrefix,
  dropDatabase,
  freePort,
  postgresVersion,
  redisVersion,
} from './resources.js';

/** What every benchmark shares: its log line, the build, cleanup on any exit, the machine lines. */
export const benchLog =
  (name: string) =>
  (message: string): void => {
    process.stderr.write(`${name}: ${message}\n`);
  };

const log = benchLog('bench');

/** LIFO cleanup, run once, whatever ended the run. */
export class Cleanup {
  private steps: { what: string; run: () => Promise<unknown> }[] = [];
  private done: Promise<void> | null = null;

  add(what: string, run: () => Promise<unknown>): void {
    this.steps.push({ what, run });
  }

  run(): Promise<void> {
    this.done ??= (async () => {
      for (const step of this.steps.reverse()) {
        try {
          await step.run();
        } catch (err) {
          log(`cleanup: ${step.what} failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    })();
    return this.done;
  }
}

/** Runs a benchmark body with a Cleanup that also runs on SIGINT/SIGTERM; failures set the exit code. */
export function runBench(body: (cleanup: Cleanup) => Promise<void>): void {
  const cleanup = new Cleanup();
  const interrupted = (signal: string) => {
    log(`${signal}: cleaning up`);
    void cleanup.run().then(() => process.exit(130));
  };
  process.once('SIGINT', () => interrupted('SIGINT'));
  process.once('SIGTERM', () => interrupted('SIGTERM'));
  body(cleanup)
    .finally(() => cleanup.run())
    .catch((err: unknown) => {
      log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exitCode = 1;
    });
}

export function build(): void {
  log('npm run build (figures come from the compiled dist/, as in production)');
  const result = spawnSync('npm', ['run', '--silent', 'build'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) throw new Error('npm run build failed');
}

export function machine(loadGenerator: string): string[] {
  const cpus = os.cpus();
  const load = os.loadavg().map((l) => l.toFixed(2));
  return [
    `cores: ${cpus.length} × ${cpus[0]?.model.trim() ?? '?'}; memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `os: ${os.type()} ${os.release()}; node ${process.version}`,
    `load generator: ${loadGenerator}, on the same host (it competes for the cores)`,
    `load average at the end (1/5/15 min): ${load.join(' ')} (other work on the host skews every figure)`,
  ];
}

/** What both benchmarks set up: a throwaway database, a Redis key prefix, tokens, servers. */
export interface BenchWorld {
  pgVersion: string;
  redisVersion: string;
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  adminToken: string;
  serviceToken: string;
  /** Deletes every Redis key of the prefix (never FLUSHALL: Redis may be shared). */
  deleteKeys(): Promise<number>;
  /** Starts a server process, stopped by the cleanup. */
  start(options: Parameters<typeof startServer>[0]): Promise<ServerProcess>;
  /** quotagate (dist/server.js, or another build's `script`) on the world's database and prefix. */
  startQuotagate(nodeArgs?: string[], script?: string, name?: string): Promise<ServerProcess>;
}

export async function prepareWorld(
  name: string,
  urls: { databaseUrl: string; redisUrl: string },
  cleanup: Cleanup,
): Promise<BenchWorld> {
  const tag = `${Date.now()}_${randomBytes(3).toString('hex')}`;
  const [pgVersion, rVersion] = await Promise.all([
    postgresVersion(urls.databaseUrl),
    redisVersion(urls.redisUrl),
  ]);
  const dbName = `qg_${name}_${tag}`;
  const databaseUrl = await createDatabase(urls.databaseUrl, dbName);
  cleanup.add(`drop database ${dbName}`, () => dropDatabase(urls.databaseUrl, dbName));
  const prefix = `qg${name[0] ?? 'x'}_${tag}`;
  const deleteKeys = () => deleteRedisPrefix(urls.redisUrl, prefix);
  cleanup.add(`delete Redis keys ${prefix}:*`, async () =>
    log(`deleted ${await deleteKeys()} Redis keys under ${prefix}:`),
  );
  log(`database ${dbName}, Redis prefix ${prefix}`);
  const adminToken = `${name}-admin-${randomBytes(12).toString('hex')}`;
  const serviceToken = `${name}-service-${randomBytes(12).toString('hex')}`;
  const servers: ServerProcess[] = [];
  cleanup.add('stop servers', () => Promise.all(servers.map((s) => s.stop())));
  const start = async (options: Parameters<typeof startServer>[0]) => {
    const server = await startServer(options);
    servers.push(server);
    return server;
  };
  return {
    pgVersion,
    redisVersion: rVersion,
    databaseUrl,
    redisUrl: urls.redisUrl,
    prefix,
    adminToken,
    serviceToken,
    deleteKeys,
    start,
    startQuotagate: async (nodeArgs = [], script = 'dist/server.js', name = 'quotagate') =>
      start({
        name,
        args: [...nodeArgs, script],
        port: await freePort(),
        readyPath: '/readyz',
        env: {
          NODE_ENV: 'production',
          REDIS_URL: urls.redisUrl,
          REDIS_KEY_PREFIX: prefix,
          DATABASE_URL: databaseUrl,
          ADMIN_TOKENS: `bench:${adminToken}`,
          SERVICE_TOKENS: `gateway:${serviceToken}`,
          LOG_LEVEL: 'warn',
        },
      }),
  };
}
