import type { Logger } from 'pino';
import type { StoreMisconfiguredError } from '../store/store-errors.js';

/**
 * A misconfiguration keeps /readyz failing this long after it was last seen, and is logged
 * again at most this often per kind of reply. It is not cleared by a success: a redirected
 * or wrongly typed key fails only the subjects it belongs to, others still answer.
 */
const MISCONFIGURED_HOLD_MS = 60_000;

/**
 * What this instance last saw of the counter store. A settle committed while Redis is
 * known down marks its subject dirty in the same transaction, so the subject is rebuilt
 * from the ledger before its next decision.
 */
export class StoreHealth {
  private down = false;
  private listeners: (() => void)[] = [];
  private misconfigured: { error: StoreMisconfiguredError; at: number } | null = null;
  private readonly loggedAt = new Map<string, number>();

  /** `elapsed`: a monotonic millisecond counter (the hold is a duration, not a decision's "now"). */
  constructor(private readonly elapsed: () => number = () => performance.now()) {}

  get isDown(): boolean {
    return this.down;
  }

  markDown(): void {
    this.down = true;
  }

  markUp(): void {
    if (!this.down) return;
    this.down = false;
    for (const listener of this.listeners) listener();
  }

  /** Called when the store answers again after being down. */
  onRecovered(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** The misconfiguration seen within the hold, or null. */
  get misconfiguration(): StoreMisconfiguredError | null {
    const seen = this.misconfigured;
    return seen && this.elapsed() - seen.at < MISCONFIGURED_HOLD_MS ? seen.error : null;
  }

  /** Remembers a misconfiguration for /readyz and logs it loudly, once per hold and kind of reply. */
  recordMisconfigured(error: StoreMisconfiguredError, logger: Pick<Logger, 'error'>): void {
    const at = this.elapsed();
    this.misconfigured = { error, at };
    const last = this.loggedAt.get(error.reply);
    if (last !== undefined && at - last < MISCONFIGURED_HOLD_MS) return;
    this.loggedAt.set(error.reply, at);
    logger.error(
      { reply: error.reply, err: error.message },
      'counter store misconfigured: decisions touching it answer 503 store_misconfigured, /readyz fails',
    );
  }
}
