import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * The servers under test run as child processes, so the load generator (this process) and
 * each server have their own event loop, as a gateway and quotagate would in production.
 */
export interface ServerProcess {
  name: string;
  url: string;
  pid: number;
  running(): boolean;
  /** The last lines it printed (errors at LOG_LEVEL=warn). */
  output(): string;
  /** SIGTERM (the server's graceful shutdown), SIGKILL if it is still there after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Only what a server needs: no stray quotagate settings from the caller's shell leak in. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** Last lines of the child's output, shown when it fails to start or dies. */
function tailOf(child: ChildProcess, lines = 40): () => string {
  const chunks: string[] = [];
  const keep = (data: Buffer) => {
    chunks.push(data.toString());
    if (chunks.length > lines) chunks.splice(0, chunks.length - lines);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => chunks.join('');
}

export async function startServer(options: {
  name: string;
  args: string[];
  port: number;
  env: Record<string, string>;
  readyPath: string;
  timeoutMs?: number;
}): Promise<ServerProcess> {
  const child = spawn(process.execPath, options.args, {
    env: { ...baseEnv(), ...options.env, PORT: String(options.port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail = tailOf(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${options.port}`;
  let alive = true;
  void exited.then(() => (alive = false));

  const stop = async (graceMs = 15_000) => {
    if (!alive) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (!alive) throw new Error(`${options.name} exited during start:\n${tail()}`);
    try {
      const res = await fetch(url + options.readyPath);
      if (res.ok)
        return { name: options.name, url, pid: child.pid ?? -1, running: () => alive, output: tail, stop };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await stop(2_000);
  throw new Error(`${options.name} was not ready within the deadline:\n${tail()}`);
}

/**
 * CPU time (user + system, ms) a process has used, from /proc: on a small shared host the
 * load generator takes cores from the server, so req/s alone mixes both; CPU per request
 * is the server's own cost. null where /proc is absent (not Linux).
 */
export function cpuMillis(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks * (1000 / CLOCK_TICKS_PER_SECOND) : null;
  } catch {
    return null;
  }
}

/** USER_HZ: 100 on every mainstream Linux build. */
const CLOCK_TICKS_PER_SECOND = 100;
