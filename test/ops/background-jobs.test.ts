import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BackgroundJobs, type BackgroundJob } from '../../src/ops/background-jobs.js';
import { SERVICE_TOKEN, startTestApp } from '../support/app.js';
import { describeWithServers, services, useRedisPrefix, useTestDatabase } from '../support/services.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Every loop and buffer of an app on one Redis, in the order they start (they stop in reverse). */
const JOBS = [
  'config-sync',
  'counter-store',
  'apply-intents',
  'write-behind',
  'settle-batcher',
  'dirty-sweeper',
  'restart-guard',
  'redis-watch',
  'delivery-worker',
  'ledger-partitions',
  'outbox-pruner',
];
/** From the report (printed after close) to the process's exit: nothing but Node's own teardown. */
const EXIT_BOUND_MS = 3_000;
/** Starting tsx, the stores and the app on a busy machine. */
const RUN_BOUND_MS = 60_000;

interface Report {
  statuses: number[];
  running: { name: string; state: string }[];
  stopped: { name: string; state: string }[];
  intervalsLeft: string[];
}

/**
 * Runs the fixture; resolves with its report, its exit code (null if it had to be killed) and
 * how long after the report it exited.
 */
function buildAndClose(
  env: Record<string, string>,
): Promise<{ code: number | null; report: Report; ms: number }> {
  let reportedAt = 0;
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/ops/fixtures/build-and-close.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let kill = setTimeout(() => child.kill('SIGKILL'), RUN_BOUND_MS);
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (reportedAt > 0 || !output.includes('{"statuses"')) return;
    reportedAt = Date.now();
    clearTimeout(kill);
    kill = setTimeout(() => child.kill('SIGKILL'), EXIT_BOUND_MS);
  });
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      clearTimeout(kill);
      const line = output.split('\n').find((l) => l.startsWith('{"statuses"'));
      if (!line) return reject(new Error(`no report from the fixture (exit ${code}):\n${output}`));
      resolve({ code, report: JSON.parse(line) as Report, ms: Date.now() - reportedAt });
    });
  });
}

describeWithServers('background jobs of an app on PostgreSQL and Redis', () => {
  const databaseUrl = useTestDatabase();
  const prefix = useRedisPrefix();

  it('runs every loop once the app is ready and stops them all when it closes', async () => {
    const t = await startTestApp({
      databaseUrl: databaseUrl(),
      redisUrl: services.redisUrl ?? '',
      redisPrefix: prefix,
    });
    expect(t.app.backgroundJobs.list()).toEqual(JOBS.map((name) => ({ name, state: 'running' })));
    await t.close();
    expect(t.app.backgroundJobs.list()).toEqual(JOBS.map((name) => ({ name, state: 'stopped' })));
  });

  it(
    'leaves nothing running after close: the process exits by itself, no interval armed',
    async () => {
      const { code, report, ms } = await buildAndClose({
        DATABASE_URL: databaseUrl(),
        REDIS_URL: services.redisUrl ?? '',
        REDIS_KEY_PREFIX: prefix,
        LOG_LEVEL: 'silent',
        SERVICE_TOKENS: `gateway:${SERVICE_TOKEN}`,
        SERVICE_TOKEN,
        ADMIN_TOKENS: 'ops:admin-token-jobs',
      });
      console.log(`exited ${ms} ms after the app and the stores closed`);
      expect(code).toBe(0);
      expect(report.statuses).toEqual([200, 200]);
      expect(report.running.map((j) => j.name)).toEqual(JOBS);
      expect(report.running.every((j) => j.state === 'running')).toBe(true);
      expect(report.stopped.every((j) => j.state === 'stopped')).toBe(true);
      expect(report.intervalsLeft).toEqual([]);
    },
    RUN_BOUND_MS + EXIT_BOUND_MS,
  );
});

describe('background jobs of an embedded app (no Redis)', () => {
  it('has no Redis loops, and stops the others on close', { timeout: 60_000 }, async () => {
    const t = await startTestApp();
    const redisOnly = new Set(['restart-guard', 'redis-watch']);
    expect(t.app.backgroundJobs.list().map((j) => j.name)).toEqual(
      JOBS.filter((name) => !redisOnly.has(name)),
    );
    await t.close();
    expect(t.app.backgroundJobs.list().every((j) => j.state === 'stopped')).toBe(true);
  });
});

describe('the job registry', () => {
  const recording = (log: string[], name: string, failStart = false): BackgroundJob => ({
    name,
    start: () => {
      if (failStart) throw new Error(`${name} cannot start`);
      log.push(`start ${name}`);
    },
    stop: async () => {
      log.push(`stop ${name}`);
    },
  });

  it('starts in registration order and stops in reverse, each once', async () => {
    const log: string[] = [];
    const jobs = new BackgroundJobs();
    for (const name of ['a', 'b', 'c']) jobs.add(recording(log, name));
    await jobs.start();
    await jobs.stop();
    await jobs.stop();
    expect(log).toEqual(['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
  });

  it('stops the jobs started before one that fails to start, and rethrows', async () => {
    const log: string[] = [];
    const jobs = new BackgroundJobs();
    jobs.add(recording(log, 'a'));
    jobs.add(recording(log, 'b', true));
    await expect(jobs.start()).rejects.toThrow('b cannot start');
    expect(log).toEqual(['start a', 'stop b', 'stop a']);
  });

  it('stops every job even when one fails to stop, then reports that failure', async () => {
    const log: string[] = [];
    const jobs = new BackgroundJobs();
    jobs.add(recording(log, 'a'));
    jobs.add({ name: 'b', start: () => undefined, stop: () => Promise.reject(new Error('b stuck')) });
    await jobs.start();
    await expect(jobs.stop()).rejects.toThrow('b stuck');
    expect(log).toEqual(['start a', 'stop a']);
    expect(jobs.list()).toEqual([
      { name: 'a', state: 'stopped' },
      { name: 'b', state: 'stopped' },
    ]);
  });

  it('refuses a name registered twice', () => {
    const jobs = new BackgroundJobs();
    jobs.add(recording([], 'a'));
    expect(() => jobs.add(recording([], 'a'))).toThrow('registered twice');
  });
});
