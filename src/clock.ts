/** The one source of "now" (epoch milliseconds) for all time-dependent logic. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(private current = Date.parse('2027-01-04T00:00:00Z')) {}
  now(): number {
    return this.current;
  }
  set(epochMs: number): void {
    this.current = epochMs;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

/**
 * Follows a remote clock (Redis TIME) so every instance agrees on "now" even when host
 * clocks drift: the offset is measured every `intervalMs`, not once per decision.
 */
export class OffsetClock implements Clock {
  private offset = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly remoteNow: () => Promise<number>,
    private readonly intervalMs = 5_000,
  ) {}

  now(): number {
    return Date.now() + this.offset;
  }

  /** Measures once (halving the round trip), then keeps measuring in the background. */
  async start(): Promise<void> {
    await this.measure();
    this.timer = setInterval(() => void this.measure().catch(() => undefined), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async measure(): Promise<void> {
    const sent = Date.now();
    const remote = await this.remoteNow();
    const received = Date.now();
    // Whole milliseconds: every consumer of "now" counts in integer epoch ms.
    this.offset = Math.round(remote - (sent + received) / 2);
  }
}
