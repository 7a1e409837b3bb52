/**
 * What a counter store reports about one bucket at decision time; the store port's
 * `BucketState` satisfies it as is. Money is µ$; counts are plain integers. Only `used`,
 * `held` and `reconnect` decide admission; the rest places the window and times retries.
 */
export interface BucketState {
  /** cost: µ$ charged in the window; requests/sessions: the count; concurrency: slots held. */
  used: number;
  /** cost: µ$ held by open reservations; 0 for other metrics. */
  held: number;
  /** sessions: this request's sessionId has a live admission in this bucket (a reconnect). */
  reconnect?: boolean;
  /** first_use: start of the open window, or null when none is open. */
  windowStart?: number | null;
  /**
   * Oldest first. Rolling windows: log events (`at` = event time) or slices (`at` = slice
   * start, see `sliceStart`), enough of the oldest to explain a refusal. Concurrency: hold
   * expiries (`at` = expiry, amount 1). Without it those retry times are unknown (null).
   */
  timeline?: readonly TimelineEntry[];
  /**
   * The store's own verdict on this bucket, judged atomically before it recorded anything
   * (an admitted reserve reports the states after recording). When present it is the truth:
   * `decide` judges only a state without one, and times only a refusing bucket.
   */
  admits?: boolean;
}

export interface TimelineEntry {
  at: number;
  amount: number;
}

/** A state the store names by bucket key (the port's `BucketState.id`). */
export interface IdentifiedState extends BucketState {
  id: string;
}

export const EMPTY_STATE: BucketState = Object.freeze({ used: 0, held: 0 });
