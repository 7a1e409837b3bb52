import type { Counting } from '../domain/counting.js';
import type { HeldAmounts, Metric } from '../domain/types.js';

/**
 * The counter store port: where holds, counts, session admissions and concurrency slots
 * live (Redis in production, in-process in embedded mode). Both adapters pass one
 * conformance suite (test/store/conformance.ts). Every operation on one subject is atomic:
 * a decision checks every bucket and records into all of them, or into none.
 *
 * Money is integer micro-dollars; times are epoch milliseconds.
 */

/** How a bucket counts: the decision core chooses it (src/domain/counting.ts). */
export type { Counting } from '../domain/counting.js';

export interface TokenCounts {
  input: number;
  output: number;
}

/** The amounts of a decision or settle, per held metric (src/domain/types.ts amountOf). */
export const heldAmounts = (costMicros: number, tokens: TokenCounts | undefined): HeldAmounts => ({
  costMicros,
  inputTokens: tokens?.input ?? 0,
  outputTokens: tokens?.output ?? 0,
});

/** `floor` is the bucket's latest reset marker (0 if none): usage before it does not count. */
export interface StoreBucket {
  /** Stable id of the bucket, unique within the subject (the display key). */
  id: string;
  metric: Metric;
  counting: Counting;
  /** Effective limit (cap + active boosts): µ$ for cost, a count otherwise. */
  limit: number;
  /** SPEC §4.8: evaluated and recorded like any bucket, but its refusal never refuses the decision. */
  shadow?: boolean;
  /**
   * SPEC §5.1: a settle that moves `used` from below a threshold to at or above it records an
   * alert (atomically with the charge, so racing settles cross once). `context` is opaque to
   * the store and comes back in the alert.
   */
  alerts?: { thresholds: number[]; context: string };
}

/** A decision's subject: the user, whose id tags every key of the decision. */
export interface DecideInput {
  subject: string;
  buckets: StoreBucket[];
  now: number;
  /** µ$ to hold on each cost bucket (0 when absent). */
  estimate: number;
  /** Tokens to hold on each token bucket (SPEC §4.7; none when absent). */
  tokenEstimate?: TokenCounts;
  sessionId: string | null;
  sessionTtlMs: number;
  /** Present on /reserve and /authz (records when admitted); null on /check (dry run). */
  reserve: {
    requestId: string;
    bodyHash: string;
    holdTtlMs: number;
    payload: string;
    /**
     * false (/authz, SPEC §7.1): cost and token buckets are checked against the estimates but
     * nothing is held on them; requests, sessions, slots and the record are written as usual.
     * Default true.
     */
    holdEstimates?: boolean;
  } | null;
}

export interface BucketState {
  id: string;
  /** Settled usage in the current window (µ$ or count). */
  used: number;
  /** µ$ held by open reservations (cost buckets only). */
  held: number;
  /** The window this state is for (first_use: start of the open window, or null if none is open). */
  windowStart: number | null;
  windowEnd: number | null;
  /** Sessions: the request's session is a live reconnect for this bucket. */
  reconnect: boolean;
  /**
   * Data for the retry time: rolling slices (oldest first) or log entries' times (oldest
   * first, only as many as needed), concurrency hold expiries (earliest first).
   */
  timeline: { at: number; amount: number }[];
  /**
   * Whether this bucket admits the decision's demand, judged before anything was recorded
   * (an admitted reserve reports states after recording). A shadow bucket may say false in
   * an admitted decision. Peeks judge a demand of nothing.
   */
  admits: boolean;
}

export interface Reservation {
  requestId: string;
  subject: string;
  state: 'held' | 'settled' | 'released';
  bodyHash: string;
  expiresAt: number;
  /** The frozen buckets and whatever the caller needs to settle later (opaque to the store). */
  payload: string;
  /**
   * Indexes (0-based, in the reserve's bucket order) of the sessions buckets where this
   * reserve was the session's admission rather than a reconnect. A replay writes exactly
   * these to the admission log: the first attempt's answer may never have come back.
   */
  newSessions: number[];
}

/** The buckets (0-based indexes) where an admitted reserve admitted its session: not reconnects. */
export function newSessionIndexes(
  input: Pick<DecideInput, 'buckets' | 'sessionId'>,
  states: readonly BucketState[],
): number[] {
  if (!input.sessionId) return [];
  return input.buckets.flatMap((b, i) =>
    b.metric === 'sessions' && states[i]?.reconnect === false ? [i] : [],
  );
}

export type DecideOutcome =
  | { kind: 'decided'; admitted: boolean; states: BucketState[]; reservation: Reservation | null }
  /** A retried /reserve: the reservation the first attempt made (whatever its state). */
  | { kind: 'existing'; reservation: Reservation }
  /** These buckets are not known to be complete (Redis lost them, or never had them): rebuild, then retry. */
  | ColdOutcome;

/**
 * Buckets not known to be complete, and the subject's warm generation: the token of its
 * last markCold ('' if none the store remembers). A seed built after this answer carries
 * it, and is refused once a markCold came in between: a rebuild read the ledger before
 * the settle that markCold stands for, so its flags must not come back without it.
 */
export interface ColdOutcome {
  kind: 'cold';
  buckets: string[];
  generation: string;
  /**
   * The store holds no warm flag and no generation of the subject: never seen, idle past
   * the warm flags' lifetime, or lost with the store's data. Not fresh: some of its buckets
   * are warm, or a markCold forgot them.
   */
  fresh: boolean;
}

export interface SettleInput {
  subject: string;
  requestId: string;
  buckets: StoreBucket[];
  now: number;
  /** µ$ actually spent, charged to every cost bucket. */
  cost: number;
  /** Tokens actually used, charged to every token bucket (none when absent). */
  tokens?: TokenCounts;
  /** A settle with no reservation counts the request itself. */
  countRequest: boolean;
  /**
   * The xid8 (decimal) of the ledger transaction that committed this settle
   * (`pg_current_xact_id()`), or null when unknown: a bucket whose seed's snapshot saw that
   * transaction counted the settle already and is not charged again (SeedWatermark).
   */
  ledgerXid?: string | null;
}

export interface ExtendInput {
  subject: string;
  requestId: string;
  /** The reservation's frozen buckets: their cost holds and concurrency slot move too. */
  buckets: StoreBucket[];
  now: number;
  /** The new expiry of the hold, the slot and the record. */
  expiresAt: number;
}

export type ExtendOutcome =
  | { kind: 'extended' }
  /** Settled, released, or lapsed (its hold expired before this call). */
  | { kind: 'closed'; state: 'settled' | 'released' | 'expired' }
  | { kind: 'unknown' };

/**
 * A threshold a settle crossed, as the store recorded it: the bucket's alert context, the
 * index of the threshold, `used` after the charge, the window's end, the request and when.
 */
export interface StoredAlert {
  /** The store's own encoding of the alert, the handle to acknowledge it by. */
  raw: string;
  context: string;
  threshold: number;
  used: number;
  resetAt: number | null;
  requestId: string;
  at: number;
}

export type ApplyOutcome =
  /** `alerts`: thresholds this settle crossed, kept by the store until acknowledged. */
  /** `unreplicated`: not every replica acknowledged it in time (cluster): rebuild the subject. */
  | { kind: 'applied'; alerts?: StoredAlert[]; unreplicated?: true }
  | { kind: 'already_applied' }
  | ColdOutcome;

/**
 * Buckets of one subject as rebuilt from the ledger and the admission log. Each bucket is
 * written only if it is still cold (set-if-absent, never an additive increment), so N
 * instances racing to rebuild produce one correct value. Holds and concurrency slots are
 * not in the ledger and are left as they are.
 */
export interface SubjectSeed {
  subject: string;
  now: number;
  buckets: {
    bucket: StoreBucket;
    /** Usage entries inside the bucket's current window: µ$, tokens or requests (1 per raw row, a rollup slice's sum). */
    usage: { at: number; amount: number; requestId: string }[];
    /** Session admissions still in the window. */
    sessions: { sessionId: string; admittedAt: number; activeUntil: number }[];
    /** first_use: the open window's start, if any. */
    firstUseStart: number | null;
  }[];
  /**
   * What the rebuild's read saw, kept with each bucket this seed writes: a settle applied
   * later whose ledger transaction the snapshot saw (SettleInput.ledgerXid) charges nothing
   * again there; buckets it found already warm are charged as usual, since their usage came
   * from elsewhere. The settle still frees holds and marks the record. Null: no ledger read
   * (a new subject's empty seed), so every later settle charges.
   */
  watermark: SeedWatermark | null;
  /** The generation of the cold answer the rebuild began from (ColdOutcome). */
  generation: string;
}

/**
 * A rebuild's PostgreSQL snapshot (`pg_current_snapshot()`: 'xmin:xmax:xip,…'), its reads
 * all in that one snapshot: exactly the settles whose transaction it shows as committed
 * (xid < xmin, or xid < xmax and not in xip) are counted in what it seeded, whatever the
 * order in which concurrent settles committed. A bounded value, unlike a list of the
 * requests it read.
 */
export interface SeedWatermark {
  snapshot: string;
  /** A settle rebuilding for itself left its own charge out of the seed: it still charges. */
  excludedRequestId: string | null;
}

/** Whether a seed with this watermark counted the settle of `requestId` committed by `xid`. */
export function countedBySeed(watermark: SeedWatermark, requestId: string, xid: string): boolean {
  if (requestId === watermark.excludedRequestId) return false;
  const [xmin = '', xmax = '', xip = ''] = watermark.snapshot.split(':');
  if (xidBefore(xid, xmin)) return true;
  return xidBefore(xid, xmax) && !xip.split(',').includes(xid);
}

/** xid8 values as decimal strings, compared without a float: 64-bit ids outgrow a double's precision. */
const xidBefore = (a: string, b: string) => (a.length === b.length ? a < b : a.length < b.length);

export interface CounterStore {
  readonly kind: 'redis' | 'memory';
  decide(input: DecideInput): Promise<DecideOutcome>;
  /** The reservation of a request id, if the store still knows it. */
  reservation(requestId: string): Promise<Reservation | null>;
  /** Releases holds and slots of a reservation and marks it settled; idempotent per request. */
  settle(input: SettleInput): Promise<ApplyOutcome>;
  /** Moves a held reservation's expiry (hold, slot and record): a long stream keeps its place. */
  extend(input: ExtendInput): Promise<ExtendOutcome>;
  /** Frees the hold and slot; requests and sessions stay counted. */
  release(subject: string, requestId: string, buckets: StoreBucket[], now: number): Promise<ApplyOutcome>;
  /** Bucket states without side effects (cold subjects answer 'cold'). */
  peek(
    subject: string,
    buckets: StoreBucket[],
    now: number,
    sessionId: string | null,
  ): Promise<{ kind: 'states'; states: BucketState[] } | ColdOutcome>;
  /** Writes the seed's cold buckets, unless the subject's generation moved on (see ColdOutcome). */
  seed(seed: SubjectSeed): Promise<void>;
  /** Alerts of the subject's settles not yet acknowledged (an instance died before moving them on). */
  pendingAlerts(subject: string): Promise<StoredAlert[]>;
  /** The alerts reached the outbox: the store forgets them. */
  ackAlerts(subject: string, alerts: StoredAlert[]): Promise<void>;
  /**
   * Forgets that a subject's buckets are complete, so its next decision rebuilds them, and
   * makes `generation` the subject's warm generation, so no seed begun before writes them.
   * The caller names the generation, unique to what is forgotten (a dirty mark's value): a
   * repeated markCold for the same cause then refuses only seeds begun before the first one,
   * whose rebuilds may have read the ledger before that cause. `unreplicated`: not every
   * replica acknowledged it, so a failover could bring the flags back.
   */
  markCold(subject: string, generation: string): Promise<{ unreplicated: boolean }>;
  /**
   * Whether every replica acknowledged this client's writes of the subject so far (always,
   * without replicas): a failover could otherwise promote one that never had them.
   */
  replicated(subject: string): Promise<boolean>;
  close(): Promise<void>;
}
