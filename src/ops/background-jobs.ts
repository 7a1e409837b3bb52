/** A loop (a timer, a subscription) or a buffer that works in the background for the app's lifetime. */
export interface BackgroundJob {
  /** Stable, kebab-case: listed by the registry. */
  name: string;
  /** Resolves once the job serves (a first load, a first check); a rejection fails the start. */
  start(): void | Promise<void>;
  /** Clears its timers and waits for its work in flight; safe on a job never started. */
  stop(): void | Promise<void>;
}

export type JobState = 'registered' | 'running' | 'stopped';

/**
 * Every background job of one app, in one list (compose.ts fills it): started in order once
 * the app is ready, stopped in reverse order when it closes, so a job stops before the ones
 * registered ahead of it, which it may still use (a sweeper before the store it sweeps).
 */
export class BackgroundJobs {
  private readonly jobs: { job: BackgroundJob; state: JobState }[] = [];

  add(job: BackgroundJob): void {
    if (this.jobs.some((entry) => entry.job.name === job.name))
      throw new Error(`background job ${job.name} registered twice`);
    this.jobs.push({ job, state: 'registered' });
  }

  /** Starts every job not started yet, one after the other; on a failure stops those started and rethrows. */
  async start(): Promise<void> {
    for (const entry of this.jobs) {
      if (entry.state !== 'registered') continue;
      try {
        await entry.job.start();
      } catch (err) {
        await this.stop().catch(() => undefined);
        throw err;
      }
      entry.state = 'running';
    }
  }

  /** Stops every job, the last registered first; one that fails does not keep the others running. */
  async stop(): Promise<void> {
    const failures: unknown[] = [];
    for (const entry of [...this.jobs].reverse()) {
      if (entry.state === 'stopped') continue;
      entry.state = 'stopped';
      await Promise.resolve()
        .then(() => entry.job.stop())
        .catch((err: unknown) => failures.push(err));
    }
    if (failures.length > 0) throw failures[0];
  }

  /** Each job's name and state, in registration order (readiness, tests). */
  list(): { name: string; state: JobState }[] {
    return this.jobs.map(({ job, state }) => ({ name: job.name, state }));
  }
}
