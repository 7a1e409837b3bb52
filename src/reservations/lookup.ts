import type { Db } from '../db/client.js';
import { payloadsOf } from './rows.js';

interface Waiting {
  requestId: string;
  resolve: (payload: string | null) => void;
  reject: (err: unknown) => void;
}

/**
 * The reservation rows written behind /reserve, looked up by request id for settles whose
 * reservation Redis does not know. Lookups that arrive in one event-loop turn share one
 * query, as concurrent settles share one ledger commit: a burst of direct settles costs one
 * round trip, not one each.
 */
export class ReservationLookup {
  private waiting: Waiting[] = [];

  constructor(private readonly db: Db) {}

  /** The stored payload of the request's reservation, or null. */
  payloadOf(requestId: string): Promise<string | null> {
    return new Promise((resolve, reject) => {
      if (this.waiting.length === 0) setImmediate(() => void this.run());
      this.waiting.push({ requestId, resolve, reject });
    });
  }

  private async run(): Promise<void> {
    const batch = this.waiting.splice(0);
    try {
      const found = await payloadsOf(this.db, [...new Set(batch.map((w) => w.requestId))]);
      for (const w of batch) w.resolve(found.get(w.requestId) ?? null);
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  }
}
