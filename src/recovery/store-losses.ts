import { WRITE_BEHIND_SETTLE_MS } from '../ledger/write-behind.js';

/**
 * How long after this instance learned of a loss of Redis data a subject the store holds
 * nothing of may still have admissions on their way to PostgreSQL. Every one was answered
 * before the loss, so before the detection, and is committed WRITE_BEHIND_SETTLE_MS after
 * its answer; the margin covers timers firing late.
 */
export const LOSS_IN_FLIGHT_MS = WRITE_BEHIND_SETTLE_MS + 250;

/**
 * When this instance last learned that the counter store lost data: a restart seen on
 * reconnection (restart-guard.ts), a lost generation marker or a master that failed over
 * (redis-watch.ts). A subject the store holds nothing of (a cold answer that is `fresh`) is
 * then either new or lost with the data; only in the second case can an admission another
 * instance answered still be in its write-behind buffer (SPEC §4.4). So a rebuild of a fresh
 * subject waits for the write-behind only while a loss is recent, and asks the store first
 * (`probe`: one round trip, only on such cold answers) whether it lost data unseen so far: a
 * FLUSHALL leaves every connection up.
 */
export class StoreLosses {
  private lastAt = Number.NEGATIVE_INFINITY;

  /** `probe` answers true when the store lost data this instance had not seen yet (or cannot tell). */
  constructor(private readonly probe: (() => Promise<boolean>) | null) {}

  /** A loss was detected now (the detectors call this). */
  readonly detected = (): void => {
    this.lastAt = performance.now();
  };

  /** Whether a rebuild of a subject the store holds nothing of must wait for the write-behind. */
  async inFlight(): Promise<boolean> {
    if (this.recent()) return true;
    if (this.probe) {
      const lost = await this.probe().catch(() => true);
      if (lost) this.detected();
    }
    return this.recent();
  }

  private recent(): boolean {
    return performance.now() - this.lastAt < LOSS_IN_FLIGHT_MS;
  }
}
