import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './server-process.js';

/**
 * A redis-server of this test's own, for tests that FLUSHALL or stop it: the shared one
 * must never lose other files' keys. Null when no redis-server binary is installed.
 */
export interface PrivateRedis {
  url: string;
  /** SIGKILL, then a start on the same port (loading `dir`'s snapshot, if any). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

/**
 * `port`: a fixed one, for a test that points a client at it before the server exists.
 * `dir`: where a SAVE writes its snapshot, which a restart then loads (nothing is saved on
 * its own); without it nothing survives a restart.
 */
export async function startPrivateRedis(
  options: { port?: number; dir?: string } = {},
): Promise<PrivateRedis> {
  const port = options.port ?? (await freePort());
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  if (options.dir) args.push('--dir', options.dir, '--dbfilename', `dump-${port}.rdb`);
  const url = `redis://127.0.0.1:${port}`;
  const launch = async () => {
    const started = spawn('redis-server', args, { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await answers(url))) {
      if (Date.now() > deadline) throw new Error('private redis-server did not start');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return started;
  };
  const stopped = (signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  let child: ChildProcess = await launch();
  return {
    url,
    restart: async () => {
      await stopped('SIGKILL');
      child = await launch();
    },
    stop: () => stopped('SIGTERM'),
  };
}

async function answers(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}
