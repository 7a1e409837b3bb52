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
 * clocks drift: the offset is measured every `intervalMs`, not once per decision. Until the
 * remote first answers (Redis down at start) it follows the local clock.
 */
/** A clock measurement whose round trip took longer is not trusted (its error is half of it). */
export const MAX_TRUSTED_ROUND_TRIP_MS = 20;

export class OffsetClock implements Clock {
  private offset = 0;
  private measured = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly remoteNow: () => Promise<number>,
    private readonly intervalMs = 5_000,
  ) {}

  now(): number {
    return Date.now() + this.offset;
  }

  /** Measures once, then keeps measuring in the background; false when the remote did not answer. */
  async start(): Promise<boolean> {
    this.timer = setInterval(() => void this.remeasure(), this.intervalMs);
    this.timer.unref();
    return this.remeasure();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Measures now (e.g. on a reconnect, which may reach another server); a failure keeps the last offset. */
  async remeasure(): Promise<boolean> {
    try {
      await this.measure();
      return true;
    } catch {
      return false;
    }
  }

  private async measure(): Promise<void> {
    const sent = Date.now();
    const remote = await this.remoteNow();
    const received = Date.now();
    // The true offset lies within half the round trip of the estimate: a slow answer (a
    // paused or busy server) would move "now" by up to half its delay, so it is kept only
    // while nothing better was ever measured.
    if (this.measured && received - sent > MAX_TRUSTED_ROUND_TRIP_MS) return;
    // Halving the round trip; whole milliseconds: every consumer of "now" counts in integer epoch ms.
    this.offset = Math.round(remote - (sent + received) / 2);
    this.measured = true;
  }
}
