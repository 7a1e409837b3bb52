import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort } from '../support/server-process.js';
import type { ChaosRedis } from './redis-cluster.js';

/**
 * The checker's own redis-server and PostgreSQL, so it may flush, pause, kill and stop them.
 * The shared servers (6379 / 5432) are never touched. Every process here is one this module
 * started and is stopped by its PID (Redis) or by its own data directory (pg_ctl -D).
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function redisServerBinary(): string | null {
  return spawnSync('redis-server', ['--version']).status === 0 ? 'redis-server' : null;
}

/** The directory of initdb / pg_ctl: `pg_config --bindir`, else the newest /usr/lib/postgresql/<v>/bin. */
export function postgresBinDir(): string | null {
  const fromConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const candidates: string[] = [];
  if (fromConfig.status === 0) candidates.push(fromConfig.stdout.trim());
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(path.join(root, v, 'bin'));
  }
  return (
    candidates.find((dir) => existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'pg_ctl'))) ??
    null
  );
}

/** initdb refuses to run as root: then PostgreSQL runs as `postgres` (or `nobody`). */
function unprivilegedUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n');
  for (const name of ['postgres', 'nobody']) {
    const line = passwd.find((l) => l.startsWith(`${name}:`));
    const fields = line?.split(':');
    if (fields && fields[2] && fields[3]) return { uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  throw new Error('running as root and no postgres/nobody user to run PostgreSQL as');
}

function run(
  command: string,
  args: string[],
  options: SpawnOptions,
  timeoutMs = 60_000,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** One command on a connection of its own, closed after the answer. */
export async function oneCommand(url: string, args: (string | number)[]): Promise<unknown> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const [name, ...rest] = args;
    return await client.call(String(name), ...rest.map(String));
  } finally {
    client.disconnect();
  }
}

export class PrivateRedis implements ChaosRedis {
  private child: ChildProcess | null = null;
  readonly url: string;
  readonly clustered = false;

  /** Where `rollback`'s snapshot waits for the next start (nothing else is ever saved). */
  private readonly dir = mkdtempSync(path.join(os.tmpdir(), 'qg-chaos-redis-'));

  private constructor(readonly port: number) {
    this.url = `redis://127.0.0.1:${port}`;
  }

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.launch();
    return redis;
  }

  /**
   * A restart from an older snapshot, as Redis with persistence comes back from a crash
   * (RDB, or an AOF written once a second): SAVE now, `aliveMs` of traffic it will not
   * hold, SIGKILL, and a start that loads the snapshot.
   */
  async rollback(aliveMs: number): Promise<void> {
    await this.command('SAVE');
    await sleep(aliveMs);
    await this.kill();
    await this.launch();
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts redis-server on this object's port (again, after a kill). */
  async launch(): Promise<void> {
    if (this.running) return;
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    args.push('--maxmemory-policy', 'noeviction', '--dir', this.dir, '--dbfilename', 'dump.rdb');
    for (let attempt = 0; ; attempt++) {
      const child = spawn('redis-server', args, { stdio: 'ignore' });
      this.child = child;
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && child.exitCode === null) {
        if (await this.ping()) {
          // Loaded once: any other restart starts empty.
          rmSync(path.join(this.dir, 'dump.rdb'), { force: true });
          return;
        }
        await sleep(50);
      }
      // The port may still be held for a moment after a SIGKILL: try again.
      if (attempt >= 5) throw new Error(`private redis-server did not start on ${this.port}`);
      child.kill('SIGKILL');
      await sleep(300);
    }
  }

  /** SIGKILL, by the PID of the child this object started. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  command(...args: (string | number)[]): Promise<unknown> {
    return oneCommand(this.url, args);
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.command('PING')) === 'PONG';
    } catch {
      return false;
    }
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Last resort at process exit (synchronous). */
  stopSync(): void {
    if (this.running && this.child?.pid) process.kill(this.child.pid, 'SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class PrivatePostgres {
  readonly url: string;
  private readonly data: string;
  private readonly log: string;
  private readonly user: { uid: number; gid: number } | null;

  private constructor(
    private readonly binDir: string,
    private readonly dir: string,
    readonly port: number,
  ) {
    this.data = path.join(dir, 'data');
    this.log = path.join(dir, 'postgres.log');
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    this.user = unprivilegedUser();
  }

  static async start(): Promise<PrivatePostgres> {
    const binDir = postgresBinDir();
    if (!binDir) throw new Error('initdb / pg_ctl not found');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'quotagate-chaos-pg-'));
    const server = new PrivatePostgres(binDir, dir, await freePort());
    if (server.user) chownSync(dir, server.user.uid, server.user.gid);
    const init = await run(
      path.join(binDir, 'initdb'),
      ['-D', server.data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'],
      server.spawnOptions(),
    );
    if (init.code !== 0) throw new Error(`initdb failed:\n${init.output}`);
    await server.launch();
    return server;
  }

  private spawnOptions(): SpawnOptions {
    return { cwd: this.dir, env: { PATH: process.env.PATH ?? '' }, ...(this.user ?? {}) };
  }

  private pgCtl(args: string[]) {
    return run(path.join(this.binDir, 'pg_ctl'), ['-D', this.data, ...args], this.spawnOptions());
  }

  /** The postmaster's PID (first line of postmaster.pid), when running. */
  get pid(): number | null {
    try {
      const first = readFileSync(path.join(this.data, 'postmaster.pid'), 'utf8').split('\n')[0];
      return first ? Number(first) : null;
    } catch {
      return null;
    }
  }

  async launch(): Promise<void> {
    // fsync off: a stopped (not crashed) machine keeps what the kernel holds; commits stay synchronous.
    const options = [
      `-p ${this.port}`,
      `-k ${this.dir}`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=off',
      '-c full_page_writes=off',
      '-c max_connections=200',
    ].join(' ');
    const started = await this.pgCtl(['-w', '-t', '60', '-l', this.log, '-o', options, 'start']);
    if (started.code !== 0) throw new Error(`pg_ctl start failed:\n${started.output}\n${this.logTail()}`);
  }

  /** pg_ctl stop: `fast` (clean) or `immediate` (a crash; recovery at the next start). */
  async halt(mode: 'fast' | 'immediate'): Promise<void> {
    const stopped = await this.pgCtl(['-w', '-t', '60', '-m', mode, 'stop']);
    if (stopped.code !== 0 && this.pid !== null) throw new Error(`pg_ctl stop failed:\n${stopped.output}`);
  }

  async query<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return (await client.query<T>(text, values)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  logTail(lines = 20): string {
    try {
      return readFileSync(this.log, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    if (this.pid !== null) await this.halt('immediate').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Last resort at process exit (synchronous): stop our postmaster, remove our directory. */
  stopSync(): void {
    if (this.pid !== null) {
      spawnSync(path.join(this.binDir, 'pg_ctl'), ['-D', this.data, '-m', 'immediate', 'stop'], {
        ...this.spawnOptions(),
        stdio: 'ignore',
        timeout: 20_000,
      });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
