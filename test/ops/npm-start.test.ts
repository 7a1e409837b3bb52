import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, SERVICE_TOKEN } from '../support/app.js';
import { freePort } from '../support/server-process.js';
import { describeWithServers, services, useRedisPrefix, useTestDatabase } from '../support/services.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A checkout as `npm start` sees it: the real package.json and node_modules, and, when
 * built, a dist/server.js. Here that file runs src/server.ts through tsx: a tsc build takes
 * a minute on two cores, and what is under test is `npm start` itself (npm → shell → node)
 * and the server's shutdown, not the compiler.
 */
async function checkout(built: boolean): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'qg-npm-start-'));
  await cp(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  if (built) {
    await mkdir(path.join(dir, 'dist'));
    const server = pathToFileURL(path.join(ROOT, 'src/server.ts')).href;
    await writeFile(
      path.join(dir, 'dist/server.js'),
      `import { register } from 'tsx/esm/api';\nregister();\nawait import(${JSON.stringify(server)});\n`,
    );
  }
  return dir;
}

interface Started {
  child: ChildProcess;
  output(): string;
  exited: Promise<void>;
}

/** `npm start` in its own process group, as a terminal runs it. */
function npmStart(dir: string, env: Record<string, string>): Started {
  const child = spawn('npm', ['start'], {
    cwd: dir,
    detached: true,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, output: () => output, exited };
}

/** Whether any process of the group led by `pgid` still runs. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls until `condition` holds; fails with the process output after `timeoutMs`. */
async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs: number, output: () => string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms; output:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const answers = (url: string) =>
  fetch(url).then(
    (r) => r.status,
    () => null,
  );

describe('npm start without a build', () => {
  it('fails at once, telling the user to run npm run build, and builds nothing', async () => {
    const dir = await checkout(false);
    try {
      const started = npmStart(dir, {});
      await started.exited;
      expect(started.child.exitCode).not.toBe(0);
      expect(started.output()).toMatch(/run npm run build/);
      expect(existsSync(path.join(dir, 'dist'))).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describeWithServers('npm start on a built checkout, stopped by a signal', () => {
  const databaseUrl = useTestDatabase();
  const prefix = useRedisPrefix();
  let dir = '';
  const groups: number[] = [];
  beforeAll(async () => {
    dir = await checkout(true);
  });
  afterAll(async () => {
    for (const pgid of groups) if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // Ctrl-C in a terminal signals the whole group; a supervisor or `kill` signals npm alone,
  // which passes it to its child: the shell, unless the script execs node.
  it.each([
    ['SIGINT to the npm process', 'npm', 'SIGINT'],
    ['SIGTERM to the npm process', 'npm', 'SIGTERM'],
    ['Ctrl-C (SIGINT to the process group)', 'group', 'SIGINT'],
  ] as const)(
    '%s shuts the server down gracefully and ends the process tree',
    async (_name, target, signal) => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}/readyz`;
      const started = npmStart(dir, {
        NODE_ENV: 'test',
        LOG_LEVEL: 'info',
        HOST: '127.0.0.1',
        PORT: String(port),
        DATABASE_URL: databaseUrl(),
        REDIS_URL: services.redisUrl ?? '',
        REDIS_KEY_PREFIX: prefix,
        ADMIN_TOKENS: `ops:${ADMIN_TOKEN}`,
        SERVICE_TOKENS: `gateway:${SERVICE_TOKEN}`,
      });
      const pgid = started.child.pid ?? 0;
      groups.push(pgid);
      await waitFor(async () => (await answers(url)) === 200, 40_000, started.output);

      process.kill(target === 'npm' ? pgid : -pgid, signal);
      const signalledAt = Date.now();
      await waitFor(() => !groupAlive(pgid), 12_000, started.output);
      expect(Date.now() - signalledAt).toBeLessThan(12_000);
      expect(await answers(url)).toBeNull();
      expect(started.output()).toContain(`"signal":"${signal}"`);
      expect(started.output()).toContain('"msg":"shutting down"');
    },
    60_000,
  );
});
