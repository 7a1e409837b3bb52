/**
 * Runs `write` at most `intervalMs` after the first `schedule()` since its last run, and on
 * `flush()` at once; runs never overlap. What the write-behind log and the apply-intent
 * cleanup share: buffer now, write a moment later in one statement.
 */
export class BatchTimer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;

  constructor(
    private readonly write: () => Promise<void>,
    private readonly intervalMs: number,
  ) {}

  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush().catch(() => undefined);
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Writes what is buffered now, after any write under way. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    this.running = this.write().finally(() => (this.running = null));
    await this.running;
  }
}
