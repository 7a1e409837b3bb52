import net from 'node:net';
import type { TestProject } from 'vitest/node';

/**
 * Finds the PostgreSQL and Redis the tests run against: testcontainers when a Docker engine
 * answers, else TEST_DATABASE_URL / TEST_REDIS_URL (default: the local servers). Missing
 * servers skip their tests loudly; with QUOTAGATE_REQUIRE_SERVICES=1 (CI) they fail the run.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    services: { postgresUrl: string | null; redisUrl: string | null };
  }
}

const DEFAULT_PG = 'postgres://postgres@127.0.0.1:5432/postgres';
const DEFAULT_REDIS = 'redis://127.0.0.1:6379';

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  const defaultPort = url.startsWith('redis') ? 6379 : 5432;
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port || defaultPort) });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(2_000);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

async function dockerEngine(): Promise<boolean> {
  if (!process.env.DOCKER_HOST && !(await import('node:fs')).existsSync('/var/run/docker.sock')) return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: (() => Promise<unknown>)[] = [];
  let postgresUrl = process.env.TEST_DATABASE_URL ?? DEFAULT_PG;
  let redisUrl = process.env.TEST_REDIS_URL ?? DEFAULT_REDIS;
  if (!process.env.TEST_DATABASE_URL && !process.env.TEST_REDIS_URL && (await dockerEngine())) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const { RedisContainer } = await import('@testcontainers/redis');
    const [pg, redis] = await Promise.all([
      new PostgreSqlContainer('postgres:17-alpine').start(),
      new RedisContainer('redis:7-alpine').start(),
    ]);
    stops.push(
      () => pg.stop(),
      () => redis.stop(),
    );
    postgresUrl = pg.getConnectionUri();
    redisUrl = redis.getConnectionUrl();
  }
  const [pgUp, redisUp] = await Promise.all([reachable(postgresUrl), reachable(redisUrl)]);
  const missing = [!pgUp && `PostgreSQL at ${postgresUrl}`, !redisUp && `Redis at ${redisUrl}`].filter(
    Boolean,
  );
  if (missing.length > 0) {
    const message = `${missing.join(' and ')} not found: the tests that need ${missing.length > 1 ? 'them' : 'it'} are SKIPPED`;
    if (process.env.QUOTAGATE_REQUIRE_SERVICES === '1') {
      throw new Error(`${message} — QUOTAGATE_REQUIRE_SERVICES=1 makes this a failure`);
    }
    console.warn(`\n${'!'.repeat(80)}\n!! ${message}\n${'!'.repeat(80)}\n`);
  }
  project.provide('services', {
    postgresUrl: pgUp ? postgresUrl : null,
    redisUrl: redisUp ? redisUrl : null,
  });
  return async () => {
    await Promise.all(stops.map((stop) => stop()));
  };
}
