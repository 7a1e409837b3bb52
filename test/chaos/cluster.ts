import { ADMIN_TOKEN, SERVICE_TOKEN } from '../support/app.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import type { Prng } from './prng.js';

/**
 * 2–3 real server processes (`node --import tsx src/server.ts`) on one PostgreSQL and one
 * Redis. An instance is killed by the PID of the process this module started (SIGKILL) and
 * restarted on a new port; operations pick a live instance at random.
 */

export interface Instance {
  index: number;
  server: ServerProcess | null;
  /** Bumped on every restart, so a log line names the process that answered. */
  generation: number;
  /** Set while a kill or restart is in progress: not picked for new operations. */
  busy: boolean;
}

export interface CallResult {
  status: number;
  body: unknown;
  /** Epoch ms just before the request was sent and just after the answer (or error). */
  lo: number;
  hi: number;
  instance: string;
  error: string | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Cluster {
  readonly instances: Instance[];
  /** Output of processes that died or failed to start, for the report. */
  readonly crashes: string[] = [];
  /** Instances that exited without being killed (an unhandled rejection ends a Node process). */
  readonly exits: string[] = [];
  /** What each instance logged (warnings and errors), kept past its kill for `--log-file`. */
  readonly logs: { name: string; output: string }[] = [];

  private constructor(
    private readonly env: Record<string, string>,
    count: number,
  ) {
    this.instances = Array.from({ length: count }, (_, index) => ({
      index,
      server: null,
      generation: 0,
      busy: false,
    }));
  }

  static async start(env: Record<string, string>, count: number): Promise<Cluster> {
    const cluster = new Cluster(env, count);
    // One at a time: migrations take turns anyway, and two cores are shared.
    for (const instance of cluster.instances) await cluster.launch(instance);
    return cluster;
  }

  /** `healthz`: started, though a store may be down (restarts during an outage). */
  private async launch(instance: Instance, waitFor: 'readyz' | 'healthz' = 'readyz'): Promise<void> {
    instance.generation++;
    const server = await startServerProcess(this.env, { waitFor });
    instance.server = server;
    const name = `i${instance.index}.${instance.generation}`;
    server.process.once('exit', (code, signal) => {
      if (instance.server !== server || instance.busy) return;
      const tail = server.output().trim().split('\n').slice(-6).join(' | ').slice(-1_500);
      this.exits.push(`${name} exited on its own (code ${code}, signal ${signal}): ${tail}`);
    });
  }

  live(): Instance[] {
    return this.instances.filter((i) => !i.busy && i.server !== null && i.server.process.exitCode === null);
  }

  pick(prng: Prng): Instance | null {
    const live = this.live();
    return live.length === 0 ? null : prng.pick(live);
  }

  /** SIGKILL of the instance's own process (by its PID). */
  async kill(instance: Instance): Promise<void> {
    const server = instance.server;
    instance.busy = true;
    if (!server) return;
    const child = server.process;
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    }
    this.keepLog(instance, server);
    instance.server = null;
  }

  private keepLog(instance: Instance, server: ServerProcess): void {
    this.logs.push({ name: `i${instance.index}.${instance.generation}`, output: server.output() });
  }

  /** Starts a killed instance again; a failure to start is recorded and rethrown. */
  async restart(instance: Instance, waitFor: 'readyz' | 'healthz' = 'readyz'): Promise<void> {
    try {
      await this.launch(instance, waitFor);
    } catch (err) {
      instance.server = null;
      this.crashes.push(`instance ${instance.index} failed to start: ${String(err).slice(0, 2000)}`);
      throw err;
    } finally {
      instance.busy = false;
    }
  }

  /** Every instance answers /readyz 200 (PostgreSQL, Redis and snapshot ok), or false at the deadline. */
  async waitReady(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (const instance of this.instances) {
      for (;;) {
        const server = instance.server;
        if (server) {
          const ok = await fetch(`${server.url}/readyz`, { signal: AbortSignal.timeout(2_000) }).then(
            (r) => r.ok,
            () => false,
          );
          if (ok) break;
        }
        if (Date.now() > deadline) return false;
        await sleep(100);
      }
    }
    return true;
  }

  async call(
    instance: Instance,
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    body?: unknown,
    admin = false,
  ): Promise<CallResult> {
    const name = `i${instance.index}.${instance.generation}`;
    const url = instance.server?.url;
    const lo = Date.now();
    if (!url) return { status: 0, body: null, lo, hi: Date.now(), instance: name, error: 'instance down' };
    try {
      const response = await fetch(url + path, {
        method,
        headers: {
          authorization: `Bearer ${admin ? ADMIN_TOKEN : SERVICE_TOKEN}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(6_000),
      });
      const text = await response.text();
      const hi = Date.now();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: kept as text
      }
      return { status: response.status, body: parsed, lo, hi, instance: name, error: null };
    } catch (err) {
      return { status: 0, body: null, lo, hi: Date.now(), instance: name, error: String(err) };
    }
  }

  /** The last error lines an instance logged (by the name a CallResult carries), for a 500's report. */
  errorTail(name: string, lines = 3): string {
    const index = Number(/^i(\d+)\./.exec(name)?.[1] ?? -1);
    const output = this.instances[index]?.server?.output() ?? '';
    return output
      .split('\n')
      .filter((l) => /error|Error|"level":50/.test(l))
      .slice(-lines)
      .map((l) => l.slice(0, 600))
      .join(' | ');
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.instances.map(async (instance) => {
        const server = instance.server;
        instance.server = null;
        if (server) {
          await server.stop('SIGKILL');
          this.keepLog(instance, server);
        }
      }),
    );
  }

  /** Last resort at process exit (synchronous). */
  stopSync(): void {
    for (const instance of this.instances) {
      const child = instance.server?.process;
      if (child && child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
    }
  }
}
