import type { Logger } from 'pino';
import type { CounterStore, StoredAlert } from '../store/counter-store.js';
import { crossingOf, type Crossing } from './alert-context.js';

/** Writes crossings to the durable outbox (src/alerts/outbox.ts); idempotent per crossing. */
export type CrossingSink = (crossings: Crossing[], now: number) => Promise<void>;

/**
 * Moves the threshold crossings a settle recorded in the counter store (atomically with its
 * charge) into the PostgreSQL outbox, then lets the store forget them. Until both happened
 * the settle's apply intent stays open, so a crash in between leaves the alerts where the
 * dirty sweep finds them (SPEC §5.1: a crash anywhere loses none).
 */
export function alertForwarder(deps: { store: CounterStore; sink: CrossingSink; logger: Logger }) {
  async function forward(subject: string, alerts: StoredAlert[], now: number): Promise<boolean> {
    if (alerts.length === 0) return true;
    try {
      const crossings = alerts.map(crossingOf).filter((c): c is Crossing => c !== null);
      await deps.sink(crossings, now);
      await deps.store.ackAlerts(subject, alerts);
      return true;
    } catch (err) {
      deps.logger.warn({ err, subject, alerts: alerts.length }, 'alerts not forwarded yet; the sweep will');
      return false;
    }
  }

  /** Alerts a dead instance left in the store for this subject, sent as of when they crossed. */
  async function drain(subject: string): Promise<void> {
    const pending = await deps.store.pendingAlerts(subject);
    if (pending.length === 0) return;
    const crossedAt = Math.max(...pending.map((a) => a.at));
    if (!(await forward(subject, pending, crossedAt))) throw new Error(`alerts of ${subject} not forwarded`);
  }

  return { forward, drain };
}

export type AlertForwarder = ReturnType<typeof alertForwarder>;
