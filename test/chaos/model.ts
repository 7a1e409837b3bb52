import { WRITE_BEHIND_SETTLE_MS } from '../../src/ledger/write-behind.js';
import {
  amountFor,
  applicable,
  isAmountMetric,
  windowOf,
  type Amounts,
  type LimitSpec,
  type Metric,
  type UserProfile,
} from './profiles.js';
import type { HistoryEntry } from './history.js';
import { certainlyIn, possiblyIn, type Interval, type WindowModel } from './windows.js';

/**
 * The model: what every acknowledged (and every possibly-performed) operation of one user
 * did to that user's buckets, and the bounds it implies for any bucket at any decision
 * instant. The bounds are sound, not exact:
 *
 * - `lower` counts only effects that certainly exist and that the SPEC says must be visible
 *   then: a violation of a lower bound (an admission beyond the cap, a `used` below it) is a
 *   real bug under every ordering of the concurrent events.
 * - `upper` counts every effect that might exist: a refusal or a `used` above it is a real
 *   over-count.
 *
 * Operations of one user run one at a time, so every earlier effect of the user completed
 * before the decision being judged started; only the exact server instant inside each
 * request's [sent, answered] interval is unknown.
 *
 * The rules, each with the SPEC section it comes from:
 * 1. cost and tokens (§4.1, §4.2 /settle, §4.7): settled spend counts at its settle instant;
 *    a reservation holds its estimate on every cost and token bucket from admission until
 *    settle, release or expiry (`expiresAt`, exact from the reply; §4.5 holds "expire").
 *    One code path for all four metrics: an operation carries its µ$ and its input and
 *    output tokens (`Amounts`), and a bucket of metric m holds or is charged `amountFor(m)`
 *    (input_tokens: input, output_tokens: output, tokens: input + output).
 * 2. requests (§1 Metric): an admitted /reserve counts 1 at its admission, a /settle without
 *    a known reservation counts 1 at its settle (§4.2). A release keeps it counted (§4.2
 *    /release). A lapsed, never-settled reservation: the SPEC does not say whether a
 *    rebuild must keep its count, so the model treats it as "maybe" after its expiry unless
 *    `strictLapsed` (the fixed server keeps them).
 * 3. sessions (§4.4): a reserve with a session id that has no admission in the bucket is a
 *    new admission, counted at its instant; with an admitted, still active session it is a
 *    reconnect and counts nothing. Sessions stay active for SESSION_TTL_SECONDS (1 h, longer
 *    than any run), so an admitted session is a reconnect for the rest of the seed.
 *    Admissions are never forgotten (§4.4), not even the newest ones at a Redis data loss,
 *    unless `forgiveSessionMs` is set — but for the documented double fault: the instance
 *    that answered it killed within the write-behind's 250 ms, and Redis losing its data
 *    (instanceKilled). A reserve
 *    burst whose siblings share a session id admits it at most once: the first admitted
 *    sibling in Redis' order is new, the rest reconnect (addBurstSession). An admission
 *    counts toward a lower bound from its answer on (a burst's siblings do not see it).
 * 4. concurrency (§1): one slot per reservation from admission until settle, release or
 *    expiry.
 * 5. Redis data loss (FLUSHALL, restart; §4.5, §4.6): the holds, request counts and slots
 *    of reservations open at the loss may be forgotten (the documented bound); a later
 *    settle of such a reservation is a direct settle (§4.2: its record is gone) and counts
 *    the request at the settle, or, if the server kept the reservation elsewhere, settles it
 *    as usual: the request counts at one of the two instants. Settled and released requests
 *    and settled spend are rebuilt from the ledger exactly.
 * 6. A settle acknowledged while Redis was disturbed commits to the ledger and marks the
 *    user dirty; other decisions may use the older counters until the sweep, so its effect
 *    is only required once the stores have been healthy for CONFIG_POLL_SECONDS + slack
 *    (README "Redis is a cache of PostgreSQL"; §4.6). While Redis is unreachable the
 *    settle cannot find the reservation, so it may count the request at the settle (a
 *    direct settle) and leave the hold and slot in Redis until they expire.
 * 7. Limit edits (§4.6: "editing a limit never forgets usage"): after an edit the bucket's
 *    window is the new one and counts every effect inside it, and open reservations keep
 *    their counts (§4.5: only a data loss forgets them). For CONFIG_POLL_SECONDS + slack
 *    after the edit some instances may still use the old definition: decisions are judged
 *    against the weakest of the candidate windows, and effects recorded during that
 *    propagation are left out of lower bounds (they may sit in the old window's storage).
 *    Upper bounds of an edited bucket are not checked (counters may legitimately keep
 *    usage recorded under the old definition).
 * 8. Ledger history (history.ts; §4.6 "rebuilt from the ledger"): rows settled before the
 *    seed, written before the user's first decision, count like acknowledged settles:
 *    spend at settled_at, one request at reserved_at, certain and visible to every decision
 *    of the seed, and never forgiven by a data loss (they are in the ledger, not open).
 */

export type Certainty = 'certain' | 'maybe';

/** The instants by which a server must show an effect acknowledged in calm, and one acknowledged in a disturbance. */
export interface VisibleBy {
  clean: number;
  disturbed: number;
}

export interface ModelOptions {
  /** CONFIG_POLL_SECONDS in ms: config propagation and dirty sweep interval. */
  pollMs: number;
  strictLapsed: boolean;
  forgiveSessionMs: number;
  /** Tolerated error of a server's clock (it follows Redis TIME), in ms. */
  skewMs: number;
}

/** What the fault log tells the model. */
export interface Disturbances {
  /** A Redis or PostgreSQL fault or an instance kill overlapped the span. */
  overlaps(span: Interval): boolean;
  /** The earliest instant ≥ t from which every store has been healthy for the quiet period. */
  quietAfter(t: number): number;
  /** Redis data losses so far (FLUSHALL, restart). */
  losses(): readonly Interval[];
}

interface Effect {
  origin: string;
  certainty: Certainty;
}

export interface Charge extends Effect {
  /** The cost and token limits it is charged to. */
  limits: string[];
  amounts: Amounts;
  at: Interval;
  ackHi: number;
  disturbed: boolean;
}

export interface Count extends Effect {
  limits: string[];
  /** The instant it counts at is in one of these (a settle during an outage may move it). */
  candidates: Interval[];
  ackHi: number;
  disturbed: boolean;
  /** From this instant on it may be forgotten (a Redis data loss while it was open). */
  forgivenFrom: number | null;
  /** A reservation's expiry while it is neither settled nor released (rule 2). */
  lapsesAt: number | null;
  /** Whether the ledger has a row for it (a settle or release committed). */
  ledger: Certainty | null;
}

export interface Hold extends Effect {
  /** The cost and token limits holding its estimates. */
  heldLimits: string[];
  slotLimits: string[];
  amounts: Amounts;
  from: Interval;
  certainUntil: number;
  possibleUntil: number;
}

export interface SessionAdmission extends Effect {
  limit: string;
  sessionId: string;
  at: Interval;
  forgivenFrom: number | null;
  /** The instances whose write-behind carries it to PostgreSQL (the one that answered). */
  writtenBy: string[];
  /** Its instance was killed before the write-behind bound passed: a data loss may forget it. */
  unwritten: boolean;
}

export type SessionStatus = 'reconnect' | 'new' | 'unknown';

export interface Reservation {
  id: string;
  model: string;
  inGroup: boolean;
  limits: string[];
  estimate: Amounts;
  sessionId: string | null;
  ttlMs: number;
  reserveAt: Interval;
  certainty: Certainty;
  /** Exact when a reply said so. */
  expiresAt: number | null;
  lost: Certainty | null;
  settle: { amounts: Amounts; attempts: Interval[]; ack: Interval | null; charge: Charge } | null;
  release: { attempts: Interval[]; ack: Interval | null } | null;
  count: Count;
  hold: Hold;
  sessions: SessionAdmission[];
}

export interface LimitTrack {
  spec: LimitSpec;
  defs: { window: WindowModel; spec: LimitSpec; from: Interval }[];
  edited: boolean;
  /** An edit whose outcome is unknown: this limit is no longer judged. */
  unknown: boolean;
}

export interface Bound {
  used: number;
  held: number;
  parts: string[];
}

const FOREVER = Number.POSITIVE_INFINITY;
const overlap = (a: Interval, b: Interval) => a.lo <= b.hi && b.lo <= a.hi;
const span = (attempts: Interval[]): Interval => ({
  lo: Math.min(...attempts.map((a) => a.lo)),
  hi: Math.max(...attempts.map((a) => a.hi)),
});
const usd = (micros: number) => `$${(micros / 1e6).toFixed(6).replace(/0+$/, '').replace(/\.$/, '')}`;
/** A value of a metric as text: µ$ as dollars, tokens with their unit, counts as they are. */
const formatAmount = (metric: Metric, value: number) =>
  metric === 'cost' ? usd(value) : isAmountMetric(metric) ? `${value} tok` : String(value);
/** Sent amounts as text: `$0.12 + 800/300 tok`. */
const formatAmounts = (a: Amounts) => `${usd(a.cost)} + ${a.input}/${a.output} tok`;
const amountLimits = (specs: LimitSpec[]) => specs.filter((s) => isAmountMetric(s.metric)).map((s) => s.id);

export class UserModel {
  readonly limits = new Map<string, LimitTrack>();
  readonly reservations = new Map<string, Reservation>();
  readonly charges: Charge[] = [];
  readonly counts: Count[] = [];
  readonly holds: Hold[] = [];
  readonly sessions: SessionAdmission[] = [];
  /** Ledger rows written before the seed (rule 8). */
  readonly history: HistoryEntry[] = [];
  /** Direct settles: request id → what was sent and whether it was acknowledged. */
  readonly directSettles = new Map<
    string,
    {
      amounts: Amounts;
      inGroup: boolean;
      attempts: Interval[];
      ack: Interval | null;
      charge: Charge;
      count: Count;
    }
  >();
  /** first_use limits: the earliest possible and the earliest certain usage (opens the window). */
  readonly firstUse = new Map<string, { possibleLo: number | null; certainHi: number | null }>();

  constructor(
    readonly profile: UserProfile,
    private readonly options: ModelOptions,
    private readonly disturbances: Disturbances,
  ) {
    for (const spec of profile.limits) {
      this.limits.set(spec.id, {
        spec,
        defs: [{ window: windowOf(spec), spec, from: { lo: -FOREVER, hi: -FOREVER } }],
        edited: false,
        unknown: false,
      });
      if (spec.reset === 'first_use') this.firstUse.set(spec.id, { possibleLo: null, certainHi: null });
    }
  }

  get user(): string {
    return this.profile.user;
  }

  get skewMs(): number {
    return this.options.skewMs;
  }

  get propagationMs(): number {
    return this.options.pollMs + 1_500;
  }

  applicableIds(inGroup: boolean): string[] {
    return applicable(this.profile, inGroup).map((l) => l.id);
  }

  // ---------------------------------------------------------------- limit edits (rule 7)

  /** The window definitions some instance may use at some instant of `q`. */
  windowsAt(track: LimitTrack, q: Interval): WindowModel[] {
    const out: WindowModel[] = [];
    track.defs.forEach((def, i) => {
      const next = track.defs[i + 1];
      const startsBy = def.from.lo <= q.hi;
      const endsAfter = !next || next.from.hi + this.propagationMs >= q.lo;
      if (startsBy && endsAfter) out.push(def.window);
    });
    return out;
  }

  /** The effect happened while an edit of this limit was propagating. */
  editAmbiguous(track: LimitTrack, at: Interval): boolean {
    return this.ambiguous(track, at);
  }

  /** How many times a settle of this request id was sent. */
  settleAttempts(requestId: string): number {
    const r = this.reservations.get(requestId);
    return r?.settle?.attempts.length ?? this.directSettles.get(requestId)?.attempts.length ?? 0;
  }

  /** A store fault overlapped one of the attempts. */
  disturbed(attempts: Interval[]): boolean {
    return attempts.some((a) => this.disturbances.overlaps(a));
  }

  private ambiguous(track: LimitTrack, at: Interval): boolean {
    return track.defs.some(
      (d, i) => i > 0 && overlap(at, { lo: d.from.lo, hi: d.from.hi + this.propagationMs }),
    );
  }

  recordEdit(limitId: string, spec: LimitSpec, at: Interval, outcome: 'applied' | 'unknown'): void {
    const track = this.limits.get(limitId);
    if (!track) return;
    if (outcome === 'unknown') {
      track.unknown = true;
      return;
    }
    track.spec = spec;
    track.edited = true;
    track.defs.push({ window: windowOf(spec), spec, from: at });
  }

  // ---------------------------------------------------------------- recording operations

  private touchFirstUse(limits: string[], at: Interval, certainty: Certainty): void {
    for (const id of limits) {
      const f = this.firstUse.get(id);
      if (!f) continue;
      f.possibleLo ??= at.lo;
      if (certainty === 'certain') f.certainHi ??= at.hi;
    }
  }

  private lossesOverlapping(at: Interval): Interval[] {
    return this.disturbances.losses().filter((l) => overlap(l, at));
  }

  /**
   * An admitted (certain) or possibly admitted (maybe: 5xx, timeout) reservation. The
   * session admissions are decided here from the earlier ones (rule 3).
   */
  addReservation(input: {
    id: string;
    model: string;
    inGroup: boolean;
    estimate: Amounts;
    sessionId: string | null;
    ttlMs: number;
    at: Interval;
    certainty: Certainty;
    expiresAt: number | null;
    /** A burst sibling: its session admission is decided for the burst (addBurstSession). */
    burst?: boolean;
    /** The instance that answered it ('-' when none did). */
    instance: string;
  }): Reservation {
    const limits = this.applicableIds(input.inGroup);
    const specs = limits
      .map((id) => this.limits.get(id)?.spec)
      .filter((s): s is LimitSpec => s !== undefined);
    // Server-stamped expiry, converted to the local clock conservatively (rule: skew).
    const skew = this.options.skewMs;
    const expiresHi = (input.expiresAt ?? input.at.hi + input.ttlMs + 1_000) + skew;
    const expiresLo = (input.expiresAt ?? input.at.lo + input.ttlMs) - skew;
    const count: Count = {
      origin: input.id,
      certainty: input.certainty,
      limits: specs.filter((s) => s.metric === 'requests').map((s) => s.id),
      candidates: [input.at],
      ackHi: input.at.hi,
      disturbed: false,
      forgivenFrom: null,
      lapsesAt: expiresLo,
      ledger: null,
    };
    const hold: Hold = {
      origin: input.id,
      certainty: input.certainty,
      heldLimits: amountLimits(specs),
      slotLimits: specs.filter((s) => s.metric === 'concurrency').map((s) => s.id),
      amounts: input.estimate,
      from: input.at,
      certainUntil: expiresLo,
      possibleUntil: expiresHi,
    };
    const sessions: SessionAdmission[] = [];
    if (input.sessionId !== null && input.burst !== true) {
      for (const spec of specs.filter((s) => s.metric === 'sessions')) {
        const status = this.sessionStatus(spec.id, input.sessionId);
        if (status === 'reconnect') continue;
        sessions.push({
          origin: input.id,
          certainty: status === 'new' ? input.certainty : 'maybe',
          limit: spec.id,
          sessionId: input.sessionId,
          at: input.at,
          forgivenFrom: null,
          writtenBy: [input.instance],
          unwritten: false,
        });
      }
    }
    const reservation: Reservation = {
      id: input.id,
      model: input.model,
      inGroup: input.inGroup,
      limits,
      estimate: input.estimate,
      sessionId: input.sessionId,
      ttlMs: input.ttlMs,
      reserveAt: input.at,
      certainty: input.certainty,
      expiresAt: input.expiresAt,
      lost: null,
      settle: null,
      release: null,
      count,
      hold,
      sessions,
    };
    this.reservations.set(input.id, reservation);
    this.counts.push(count);
    this.holds.push(hold);
    this.sessions.push(...sessions);
    this.touchFirstUse(limits, input.at, input.certainty);
    for (const loss of this.lossesOverlapping(input.at)) this.forget(reservation, loss);
    return reservation;
  }

  /**
   * The session admissions of a reserve burst whose siblings all carry `sessionId` (rule 3),
   * one per sessions limit at most: whichever admitted sibling ran first in Redis admitted
   * it and the others reconnected, so it exists by the first answer of a certainly admitted
   * sibling. `before`: each sessions limit's sessionStatus when the burst was sent (a
   * reconnect then admits nothing; an unknown one may have). `siblings`: those admitted or
   * maybe admitted, with the limits each was judged on.
   */
  addBurstSession(
    sessionId: string,
    before: ReadonlyMap<string, SessionStatus>,
    siblings: { id: string; at: Interval; certainty: Certainty; limits: string[]; instance: string }[],
  ): void {
    for (const [limit, status] of before) {
      if (status === 'reconnect') continue;
      const admitting = siblings.filter((s) => s.limits.includes(limit));
      const certain = admitting.filter((s) => s.certainty === 'certain');
      const first = certain[0] ?? admitting[0];
      if (!first) continue;
      const his = (certain.length > 0 ? certain : admitting).map((s) => s.at.hi);
      this.sessions.push({
        origin: first.id,
        certainty: certain.length > 0 && status === 'new' ? 'certain' : 'maybe',
        limit,
        sessionId,
        at: {
          lo: Math.min(...admitting.map((s) => s.at.lo)),
          hi: certain.length > 0 ? Math.min(...his) : Math.max(...his),
        },
        forgivenFrom: null,
        // Whichever sibling ran first in Redis wrote it behind: any of them may have.
        writtenBy: admitting.map((s) => s.instance),
        unwritten: false,
      });
    }
  }

  /** sessionStatus in every sessions limit of the user. */
  sessionStatuses(sessionId: string): Map<string, SessionStatus> {
    const statuses = new Map<string, SessionStatus>();
    for (const [id, track] of this.limits)
      if (track.spec.metric === 'sessions') statuses.set(id, this.sessionStatus(id, sessionId));
    return statuses;
  }

  /**
   * Whether `sessionId` is certainly a reconnect in this bucket (an admission that is
   * certain and not forgiven), certainly new (no admission at all), or unknown.
   */
  sessionStatus(limitId: string, sessionId: string): SessionStatus {
    const previous = this.sessions.filter((s) => s.limit === limitId && s.sessionId === sessionId);
    if (previous.length === 0) return 'new';
    if (previous.some((s) => s.certainty === 'certain' && s.forgivenFrom === null)) return 'reconnect';
    return 'unknown';
  }

  /** A first close attempt (settle or release) was sent: the hold and slot may be gone from now on. */
  closing(reservation: Reservation, at: Interval): void {
    reservation.hold.certainUntil = Math.min(reservation.hold.certainUntil, at.lo);
  }

  /** A settle of a reservation was attempted; `ack` when it was answered 200 (rules 1, 5, 6). */
  settleOutcome(
    reservation: Reservation,
    amounts: Amounts,
    attempts: Interval[],
    ack: Interval | null,
  ): void {
    const all = span(attempts);
    const disturbed = this.disturbances.overlaps(all);
    const charge: Charge = reservation.settle?.charge ?? {
      origin: reservation.id,
      certainty: 'maybe',
      limits: reservation.hold.heldLimits,
      amounts,
      at: all,
      ackHi: all.hi,
      disturbed,
    };
    if (!reservation.settle) this.charges.push(charge);
    Object.assign(charge, {
      certainty: ack ? 'certain' : 'maybe',
      at: all,
      ackHi: ack?.hi ?? all.hi,
      disturbed,
    });
    reservation.settle = { amounts, attempts, ack, charge };
    this.touchFirstUse(charge.limits, all, 'maybe');
    const count = reservation.count;
    // A settle that may not have found the record (lost, or Redis unreachable) counts the request
    // itself, at the settle; one that found it (a server may keep reservations durably) at the reserve.
    if (reservation.lost !== null || disturbed || this.lossesOverlapping(all).length > 0) {
      count.candidates = [reservation.reserveAt, all];
      count.disturbed = count.disturbed || disturbed;
      count.ackHi = Math.max(count.ackHi, ack?.hi ?? all.hi);
    }
    if (disturbed) reservation.hold.possibleUntil = Math.max(reservation.hold.possibleUntil, all.hi);
    else if (ack) reservation.hold.possibleUntil = Math.min(reservation.hold.possibleUntil, ack.hi);
    if (ack) {
      count.ledger = 'certain';
      count.lapsesAt = null;
      // Only a certainly admitted reservation becomes certain by its settle (a maybe one: its settle was direct).
      if (count.forgivenFrom !== null || count.certainty === 'maybe') {
        count.forgivenFrom = null;
        if (reservation.lost === 'certain' || count.certainty === 'certain') count.certainty = 'certain';
      }
    } else {
      count.ledger = 'maybe';
    }
  }

  /** A release was attempted; `ack` when answered 200. */
  releaseOutcome(
    reservation: Reservation,
    attempts: Interval[],
    ack: Interval | null,
    ledgerUp: boolean,
  ): void {
    reservation.release = { attempts, ack };
    const all = span(attempts);
    const disturbed = this.disturbances.overlaps(all);
    if (ack && !disturbed) reservation.hold.possibleUntil = Math.min(reservation.hold.possibleUntil, ack.hi);
    if (ack) {
      reservation.count.lapsesAt = null;
      reservation.count.ledger = ledgerUp ? 'certain' : 'maybe';
    }
  }

  /** A /release answered 404: the record is gone (a data loss): nothing was released. */
  releaseUnknown(reservation: Reservation, attempts: Interval[]): void {
    reservation.release = { attempts, ack: null };
  }

  /** A settle with no reservation (rule 2): charges and counts at the settle. Called again after retries. */
  directSettle(input: {
    id: string;
    inGroup: boolean;
    amounts: Amounts;
    attempts: Interval[];
    ack: Interval | null;
  }): void {
    const all = span(input.attempts);
    const disturbed = this.disturbances.overlaps(all);
    const certainty: Certainty = input.ack ? 'certain' : 'maybe';
    const ackHi = input.ack?.hi ?? all.hi;
    const existing = this.directSettles.get(input.id);
    if (existing) {
      Object.assign(existing.charge, { certainty, at: all, ackHi, disturbed });
      Object.assign(existing.count, { certainty, candidates: [all], ackHi, disturbed, ledger: certainty });
      Object.assign(existing, { attempts: input.attempts, ack: input.ack });
      if (certainty === 'certain')
        this.touchFirstUse([...existing.charge.limits, ...existing.count.limits], all, certainty);
      return;
    }
    const limits = this.applicableIds(input.inGroup);
    const specs = limits
      .map((id) => this.limits.get(id)?.spec)
      .filter((s): s is LimitSpec => s !== undefined);
    const charge: Charge = {
      origin: input.id,
      certainty,
      limits: amountLimits(specs),
      amounts: input.amounts,
      at: all,
      ackHi,
      disturbed,
    };
    const count: Count = {
      origin: input.id,
      certainty,
      limits: specs.filter((s) => s.metric === 'requests').map((s) => s.id),
      candidates: [all],
      ackHi,
      disturbed,
      forgivenFrom: null,
      lapsesAt: null,
      ledger: certainty,
    };
    this.charges.push(charge);
    this.counts.push(count);
    this.directSettles.set(input.id, {
      amounts: input.amounts,
      inGroup: input.inGroup,
      attempts: input.attempts,
      ack: input.ack,
      charge,
      count,
    });
    this.touchFirstUse(limits, all, certainty);
  }

  /** Ledger history written before the seed, committed by `writtenAt` (rule 8). */
  addHistory(entries: HistoryEntry[], writtenAt: number): void {
    for (const e of entries) {
      const specs = e.limits
        .map((id) => this.limits.get(id)?.spec)
        .filter((s): s is LimitSpec => s !== undefined);
      this.charges.push({
        origin: e.requestId,
        certainty: 'certain',
        limits: amountLimits(specs),
        amounts: e.amounts,
        at: { lo: e.settledAt, hi: e.settledAt },
        ackHi: writtenAt,
        disturbed: false,
      });
      this.counts.push({
        origin: e.requestId,
        certainty: 'certain',
        limits: specs.filter((s) => s.metric === 'requests').map((s) => s.id),
        candidates: [{ lo: e.reservedAt, hi: e.reservedAt }],
        ackHi: writtenAt,
        disturbed: false,
        forgivenFrom: null,
        lapsesAt: null,
        ledger: 'certain',
      });
      this.history.push(e);
    }
  }

  /** An /extend answered 200 with a new expiry (hook: the endpoint does not exist yet). */
  extended(reservation: Reservation, at: Interval, expiresAt: number | null, ttlMs: number): void {
    const skew = this.options.skewMs;
    if (expiresAt !== null) {
      reservation.expiresAt = expiresAt;
      if (reservation.hold.certainUntil >= at.lo) reservation.hold.certainUntil = expiresAt - skew;
      reservation.count.lapsesAt = expiresAt - skew;
    }
    reservation.hold.possibleUntil = Math.max(reservation.hold.possibleUntil, at.hi + ttlMs + 1_000 + skew);
  }

  // ---------------------------------------------------------------- data loss (rule 5)

  private forget(reservation: Reservation, loss: Interval): void {
    const closedBefore = (op: { ack: Interval | null } | null) => op?.ack != null && op.ack.hi < loss.lo;
    if (closedBefore(reservation.settle) || closedBefore(reservation.release)) return;
    const existedBefore = reservation.reserveAt.hi < loss.lo && reservation.certainty === 'certain';
    reservation.lost = reservation.lost === 'certain' || existedBefore ? 'certain' : 'maybe';
    reservation.hold.certainUntil = Math.min(reservation.hold.certainUntil, loss.lo);
    const count = reservation.count;
    const settle = reservation.settle;
    if (settle?.ack && overlap(span(settle.attempts), loss)) {
      // Settled across the loss: the ledger has it, counted at the reserve or at the settle.
      count.candidates = [reservation.reserveAt, span(settle.attempts)];
    } else if (count.ledger !== 'certain') {
      count.forgivenFrom = Math.min(count.forgivenFrom ?? FOREVER, loss.lo);
    }
  }

  dataLoss(loss: Interval): void {
    for (const reservation of this.reservations.values()) {
      if (reservation.reserveAt.lo > loss.hi) continue;
      this.forget(reservation, loss);
    }
    if (this.options.forgiveSessionMs > 0) {
      for (const s of this.sessions) {
        if (s.at.hi > loss.lo - this.options.forgiveSessionMs && s.at.lo <= loss.hi) {
          s.forgivenFrom = Math.min(s.forgivenFrom ?? FOREVER, loss.lo);
        }
      }
    }
    for (const s of this.sessions) {
      if (s.unwritten && s.at.lo <= loss.hi) s.forgivenFrom = Math.min(s.forgivenFrom ?? FOREVER, loss.lo);
    }
  }

  /**
   * An instance was killed (rule 3's documented bound): admissions it answered less than the
   * write-behind's WRITE_BEHIND_SETTLE_MS before may never reach PostgreSQL, so a Redis data
   * loss — before the kill or after it — may forget them. Other admissions never are.
   */
  instanceKilled(instance: string, kill: Interval): void {
    for (const s of this.sessions) {
      const tooRecent = s.at.hi > kill.lo - WRITE_BEHIND_SETTLE_MS && s.at.lo <= kill.hi;
      if (!s.writtenBy.includes(instance) || !tooRecent) continue;
      s.unwritten = true;
      for (const loss of this.disturbances.losses())
        if (loss.hi >= s.at.lo) s.forgivenFrom = Math.min(s.forgivenFrom ?? FOREVER, loss.lo);
    }
  }

  // ---------------------------------------------------------------- bounds

  /** Whether a server must show the effect by `by` (rule 6). */
  private visible(e: { ackHi: number; disturbed: boolean }, by: VisibleBy): boolean {
    return e.disturbed ? by.disturbed >= this.disturbances.quietAfter(e.ackHi) : by.clean >= e.ackHi;
  }

  /**
   * Lower bound at decision interval `q`: the weakest over the candidate windows. Null: not
   * judged. `visibleBy`: count only settles and counts a server must show by then (default:
   * the decision's start, for effects acknowledged in calm and in disturbance alike).
   */
  lower(limitId: string, q: Interval, visibleBy: VisibleBy = { clean: q.lo, disturbed: q.lo }): Bound | null {
    const track = this.limits.get(limitId);
    if (!track || track.unknown) return null;
    let best: Bound | null = null;
    for (const window of this.windowsAt(track, q)) {
      const b = this.lowerUnder(track, window, q, visibleBy);
      if (!best || b.used + b.held < best.used + best.held) best = b;
    }
    return best;
  }

  private lowerUnder(track: LimitTrack, window: WindowModel, q: Interval, visibleBy: VisibleBy): Bound {
    const id = track.spec.id;
    const parts: string[] = [];
    let used = 0;
    let held = 0;
    const inWindow = (at: Interval) =>
      certainlyIn(window, at, q, this.options.skewMs) && !this.ambiguous(track, at);
    const metric = track.spec.metric;
    switch (metric) {
      case 'cost':
      case 'input_tokens':
      case 'output_tokens':
      case 'tokens':
        for (const c of this.charges) {
          if (
            c.certainty !== 'certain' ||
            !c.limits.includes(id) ||
            !this.visible(c, visibleBy) ||
            !inWindow(c.at)
          )
            continue;
          const amount = amountFor(metric, c.amounts);
          used += amount;
          parts.push(`settled ${c.origin} ${formatAmount(metric, amount)}`);
        }
        for (const h of this.holds) {
          if (h.certainty !== 'certain' || !h.heldLimits.includes(id)) continue;
          if (h.from.hi > q.lo || h.certainUntil <= q.hi) continue;
          const amount = amountFor(metric, h.amounts);
          held += amount;
          parts.push(`held ${h.origin} ${formatAmount(metric, amount)}`);
        }
        break;
      case 'requests':
        for (const k of this.counts) {
          if (k.certainty !== 'certain' || !k.limits.includes(id) || !this.visible(k, visibleBy)) continue;
          if (k.forgivenFrom !== null && k.forgivenFrom <= q.hi) continue;
          if (!this.options.strictLapsed && k.lapsesAt !== null && k.lapsesAt <= q.hi) continue;
          if (!k.candidates.every(inWindow)) continue;
          used += 1;
          parts.push(`${k.ledger === null ? 'open' : 'closed'} ${k.origin}`);
        }
        break;
      case 'sessions':
        for (const s of this.sessions) {
          if (s.certainty !== 'certain' || s.limit !== id || s.at.hi > visibleBy.clean) continue;
          if (s.forgivenFrom !== null && s.forgivenFrom <= q.hi) continue;
          if (!inWindow(s.at)) continue;
          used += 1;
          parts.push(`session ${s.sessionId} by ${s.origin}`);
        }
        break;
      case 'concurrency':
        for (const h of this.holds) {
          if (h.certainty !== 'certain' || !h.slotLimits.includes(id)) continue;
          if (h.from.hi > q.lo || h.certainUntil <= q.hi) continue;
          used += 1;
          parts.push(`slot ${h.origin}`);
        }
        break;
    }
    return { used, held, parts };
  }

  /** Upper bound at `q`; null when not judged (an edited or unknown limit). */
  upper(limitId: string, q: Interval): Bound | null {
    const track = this.limits.get(limitId);
    if (!track || track.unknown || track.edited) return null;
    const window = track.defs[0]?.window;
    if (!window) return null;
    const id = track.spec.id;
    const parts: string[] = [];
    let used = 0;
    let held = 0;
    const inWindow = (at: Interval) => possiblyIn(window, at, q, this.options.skewMs);
    const alive = (h: Hold) => h.from.lo <= q.hi && h.possibleUntil > q.lo;
    const metric = track.spec.metric;
    switch (metric) {
      case 'cost':
      case 'input_tokens':
      case 'output_tokens':
      case 'tokens':
        for (const c of this.charges) {
          if (!c.limits.includes(id) || !inWindow(c.at)) continue;
          const amount = amountFor(metric, c.amounts);
          used += amount;
          parts.push(`${c.certainty} settled ${c.origin} ${formatAmount(metric, amount)}`);
        }
        for (const h of this.holds) {
          if (!h.heldLimits.includes(id) || !alive(h)) continue;
          const amount = amountFor(metric, h.amounts);
          held += amount;
          parts.push(`${h.certainty} held ${h.origin} ${formatAmount(metric, amount)}`);
        }
        break;
      case 'requests':
        for (const k of this.counts) {
          if (!k.limits.includes(id) || !k.candidates.some(inWindow)) continue;
          used += 1;
          parts.push(`${k.certainty} ${k.origin}`);
        }
        break;
      case 'sessions':
        for (const s of this.sessions) {
          if (s.limit !== id || !inWindow(s.at)) continue;
          used += 1;
          parts.push(`${s.certainty} session ${s.sessionId}`);
        }
        break;
      case 'concurrency':
        for (const h of this.holds) {
          if (!h.slotLimits.includes(id) || !alive(h)) continue;
          used += 1;
          parts.push(`${h.certainty} slot ${h.origin}`);
        }
        break;
    }
    return { used, held, parts };
  }

  /** Reservations a settle or release may target. */
  openReservations(now: number): Reservation[] {
    return [...this.reservations.values()].filter(
      (r) => r.certainty === 'certain' && !r.settle && !r.release && (r.expiresAt ?? 0) > now,
    );
  }

  /** Certainly admitted, never closed, possibly lapsed: a late settle still records the cost (§4.5). */
  unsettledReservations(): Reservation[] {
    return [...this.reservations.values()].filter(
      (r) => r.certainty === 'certain' && !r.settle && !r.release,
    );
  }

  settledReservations(): Reservation[] {
    return [...this.reservations.values()].filter((r) => r.settle?.ack);
  }
}

export { usd as formatUsd, formatAmount, formatAmounts };
