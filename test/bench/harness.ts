import { spawnSync } from 'node:child_process';
import os from 'node:os';

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
