import type { CallResult, Cluster, Instance } from './cluster.js';
import type { FaultLog } from './faults.js';
import {
  formatAmount,
  formatAmounts,
  formatUsd as usd,
  type Reservation,
  type SessionStatus,
  type UserModel,
} from './model.js';
import { judgeDecision, judgeUsage, type BucketView, type DecisionBody } from './oracle.js';
import type { Prng } from './prng.js';
import { isAmountMetric, type Amounts } from './profiles.js';
import type { SeedReport } from './report.js';
import type { Interval } from './windows.js';

/**
 * One worker per user: a seeded sequence of operations, one at a time (so the model knows
 * the order of the user's own effects), each on an instance picked at random. Workers of
 * different users run in parallel. Retries follow what a gateway does: /settle and
 * /release are retried with the same body until answered, /reserve once. Every reserve,
 * check and settle carries a cost and input / output token counts (SPEC §4.2, §4.7).
 */

export const OP_KINDS = [
  'reserve',
  'settle',
  'release',
  'direct-settle',
  'duplicate-settle',
  'check',
  'check-burst',
  'reserve-burst',
  'usage',
  'extend',
] as const;
export type OpKind = (typeof OP_KINDS)[number];

export const DEFAULT_OP_WEIGHTS: Record<OpKind, number> = {
  reserve: 31,
  settle: 22,
  release: 7,
  'direct-settle': 5,
  'duplicate-settle': 4,
  check: 10,
  'check-burst': 3,
  'reserve-burst': 3,
  usage: 12,
  // HOOK(extend): POST /extend does not exist yet; `--extend` turns this on once it does.
  extend: 0,
};

export interface WorkloadOptions {
  opsPerUser: number;
  thinkMs: [number, number];
  weights: Record<OpKind, number>;
}

export interface Models {
  /** The seed's model inside its model group, and one in no group. */
  grouped: string;
  ungrouped: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Copies of one /check a burst sends at once to one instance. */
const CHECK_BURST = 6;
const dollars = (micros: number) => (micros / 1e6).toFixed(6);
/** The /check and /reserve fields of an estimate. */
const estimateFields = (e: Amounts) => ({
  estimatedCostUsd: dollars(e.cost),
  estimatedInputTokens: e.input,
  estimatedOutputTokens: e.output,
});
/** The /settle fields of actual amounts. */
const settleFields = (a: Amounts) => ({
  costUsd: dollars(a.cost),
  inputTokens: a.input,
  outputTokens: a.output,
});
const transient = (r: CallResult) => r.status === 0 || r.status === 503 || r.status >= 500;
const codeOf = (r: CallResult) =>
  typeof r.body === 'object' && r.body !== null && 'code' in r.body
    ? String((r.body as { code: unknown }).code)
    : '';

/** One /reserve as sent and answered (after its one retry), before the model hears of it. */
interface SentReserve {
  id: string;
  op: OpKind;
  d: Demand;
  ttlMs: number;
  q: Interval;
  what: string;
  last: CallResult;
  decision: DecisionBody;
  admitted: boolean;
  failedOpen: boolean;
  expiresAt: number | null;
  maybe: boolean;
}

interface Demand {
  inGroup: boolean;
  model: string;
  estimate: Amounts;
  sessionId: string | null;
}

export class UserWorker {
  private n = 0;
  /** Settles not acknowledged yet (retried at the end of the seed). */
  readonly pending: (() => Promise<void>)[] = [];

  constructor(
    private readonly deps: {
      cluster: Cluster;
      model: UserModel;
      report: SeedReport;
      prng: Prng;
      models: Models;
      options: WorkloadOptions;
      faults: FaultLog;
      /** A server clock further than this from the host's is reported (rule clock-skew). */
      skewCheckMs: number;
      failMode: 'open' | 'closed';
    },
  ) {}

  private get user(): string {
    return this.deps.model.user;
  }

  private log(text: string): void {
    this.deps.report.line(this.user, text);
  }

  private describe(r: CallResult): string {
    const took = `${r.instance} +${r.hi - r.lo}ms`;
    if (r.status === 0) return `ERR(${(r.error ?? '').slice(0, 60)}) ${took}`;
    const code = codeOf(r);
    return `${r.status}${code ? ` ${code}` : ''} ${took}`;
  }

  /** HTTP 500 is a bug whatever the fault (SPEC §6: internal_error). */
  private flag500(what: string, r: CallResult): void {
    if (r.status >= 500 && r.status !== 503) {
      const log = this.deps.cluster.errorTail(r.instance);
      this.deps.report.violation(
        'http-500',
        this.user,
        `${what} answered ${r.status} on ${r.instance}: ${JSON.stringify(r.body).slice(0, 200)}${log ? `; server log: ${log}` : ''}`,
      );
    }
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<CallResult> {
    const instance = this.deps.cluster.pick(this.deps.prng);
    if (!instance)
      return {
        status: 0,
        body: null,
        lo: Date.now(),
        hi: Date.now(),
        instance: '-',
        error: 'no live instance',
      };
    return this.deps.cluster.call(instance, method, path, body);
  }

  async run(): Promise<void> {
    const { prng, options } = this.deps;
    for (let i = 0; i < options.opsPerUser; i++) {
      await sleep(prng.int(options.thinkMs[0], options.thinkMs[1]));
      await this.step(prng.weighted(options.weights));
    }
  }

  private async step(kind: OpKind): Promise<void> {
    const { model, prng } = this.deps;
    const now = Date.now();
    switch (kind) {
      case 'settle': {
        const open = model.openReservations(now);
        const all = model.unsettledReservations();
        const pool = open.length > 0 && prng.chance(0.85) ? open : all;
        if (pool.length === 0) return this.reserve();
        return this.settle(prng.pick(pool));
      }
      case 'release': {
        const open = model.openReservations(now);
        if (open.length === 0) return this.reserve();
        return this.release(prng.pick(open));
      }
      case 'duplicate-settle': {
        const done = model.settledReservations();
        if (done.length === 0) return this.directSettle();
        return this.duplicateSettle(prng.pick(done));
      }
      case 'extend': {
        const open = model.openReservations(now);
        if (open.length === 0) return this.reserve();
        return this.extend(prng.pick(open));
      }
      case 'direct-settle':
        return this.directSettle();
      case 'check':
        return this.check();
      case 'check-burst':
        return this.checkBurst();
      case 'usage':
        await this.usage(prng.chance(0.6), false);
        return;
      case 'reserve':
        return this.reserve();
      case 'reserve-burst':
        return this.reserveBurst();
    }
  }

  private demand(): Demand {
    const { prng, models } = this.deps;
    const inGroup = prng.chance(0.8);
    const estimate: Amounts = {
      cost: prng.chance(0.08) ? 0 : prng.int(5, 40) * 10_000,
      input: prng.chance(0.08) ? 0 : prng.int(2, 40) * 100,
      output: prng.chance(0.1) ? 0 : prng.int(1, 30) * 100,
    };
    const sessionId = prng.chance(0.5) ? `sess-${prng.int(0, 5)}` : null;
    return { inGroup, model: inGroup ? models.grouped : models.ungrouped, estimate, sessionId };
  }

  /** An actual amount for an estimate (or a fresh one for 0): 0.3–1.6 × it, sometimes 0. */
  private actual(estimate: number, fresh: () => number, zero: number, round: number): number {
    const { prng } = this.deps;
    const base = estimate > 0 ? estimate : fresh();
    if (prng.chance(zero)) return 0;
    return Math.round((base * (0.3 + prng.next() * 1.3)) / round) * round;
  }

  private async reserve(): Promise<void> {
    const sent = await this.sendReserve(this.demand());
    this.judgeReserve(sent);
    this.recordReserve(sent);
  }

  /**
   * 2–4 reserves of the user at once, each on an instance picked at random (SPEC §4.2:
   * admission is atomic across instances). The siblings' order in Redis is unknown, so all
   * of them are in the model before any is judged (an admitted sibling may explain a
   * refusal). Half the bursts share one session id (a client's parallel calls in one
   * conversation): whichever admitted sibling ran first admitted it as new and the rest
   * reconnected, so the burst adds one admission at most, and each sibling is judged on the
   * session's status before the burst (SPEC §4.4). The per-decision checks cannot see two
   * siblings admitted past a cap together (neither is certainly before the other):
   * checkBurstCaps does.
   */
  private async reserveBurst(): Promise<void> {
    const { prng, model } = this.deps;
    const size = prng.int(2, 4);
    const session = prng.chance(0.5) ? `sess-${prng.int(0, 5)}` : null;
    const demands = Array.from({ length: size }, () => ({ ...this.demand(), sessionId: session }));
    const before = session === null ? null : model.sessionStatuses(session);
    const sent = await Promise.all(demands.map((d) => this.sendReserve(d, 'reserve-burst')));
    for (const s of sent) this.recordReserve(s, true);
    if (session !== null && before !== null) {
      const siblings = sent
        .filter((s) => s.admitted || s.maybe)
        .map((s) => ({
          id: s.id,
          at: s.q,
          certainty: s.admitted ? ('certain' as const) : ('maybe' as const),
          limits: model.applicableIds(s.d.inGroup),
          instance: s.last.instance,
        }));
      model.addBurstSession(session, before, siblings);
    }
    const statusBefore = before === null ? undefined : (id: string) => before.get(id) ?? 'unknown';
    for (const s of sent) this.judgeReserve(s, statusBefore);
    this.checkBurstCaps(sent);
  }

  private async sendReserve(d: Demand, op: OpKind = 'reserve'): Promise<SentReserve> {
    const { prng } = this.deps;
    const id = `${this.user}-r${this.n++}`;
    const ttlMs = prng.int(4, 40) * 1000;
    const body = {
      requestId: id,
      userId: this.user,
      model: d.model,
      ...estimateFields(d.estimate),
      ttlSeconds: ttlMs / 1000,
      ...(d.sessionId ? { sessionId: d.sessionId } : {}),
    };
    const attempts: CallResult[] = [];
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = await this.call('POST', '/reserve', body);
      attempts.push(r);
      this.flag500(`${op} ${id}`, r);
      if (!transient(r) || attempt === 1) break;
      await sleep(prng.int(200, 600));
    }
    const last = attempts[attempts.length - 1] as CallResult;
    const q: Interval = { lo: (attempts[0] as CallResult).lo, hi: last.hi };
    const what = `${op} ${id} (${d.inGroup ? 'grouped' : 'ungrouped'}, est ${formatAmounts(d.estimate)}${d.sessionId ? `, ${d.sessionId}` : ''}, ttl ${ttlMs / 1000}s)`;
    const decision = last.body as DecisionBody;
    this.log(`${what}: ${attempts.map((a) => this.describe(a)).join(' → ')}`);
    const admitted =
      last.status === 200 &&
      decision.allowed === true &&
      decision.failOpen !== true &&
      decision.reservation?.state === 'held';
    // FAIL_MODE=open: a fail-open admission holds nothing, but a timed-out script may have run.
    const failedOpen = last.status === 200 && decision.failOpen === true;
    const expiresAt = admitted && decision.reservation ? Date.parse(decision.reservation.expiresAt) : null;
    // A 5xx or timeout may have been admitted in Redis all the same (even if a retry was refused).
    const maybe = attempts.some(transient) || failedOpen;
    return { id, op, d, ttlMs, q, what, last, decision, admitted, failedOpen, expiresAt, maybe };
  }

  private judgeReserve(s: SentReserve, sessionStatus?: (limitId: string) => SessionStatus): void {
    const { model, report } = this.deps;
    const { last, what, q, d } = s;
    if (last.status === 200 || last.status === 429) {
      judgeDecision(
        { model, report },
        {
          what,
          inGroup: d.inGroup,
          estimate: d.estimate,
          sessionId: d.sessionId,
          q,
          failMode: this.deps.failMode,
          sessionStatus,
        },
        last.status,
        s.decision,
      );
    }
    if (s.admitted && s.expiresAt !== null) {
      // expiresAt = the server's "now" + ttl: how far its clock is from this host's.
      const serverNow = s.expiresAt - s.ttlMs;
      const off = serverNow < q.lo ? serverNow - q.lo : serverNow > q.hi ? serverNow - q.hi : 0;
      if (Math.abs(off) > this.deps.skewCheckMs) {
        report.violation(
          'clock-skew',
          this.user,
          `${what} on ${last.instance}: the server's now (expiresAt − ttl = ${new Date(serverNow).toISOString()}) is ${off} ms outside [sent, answered] = [${new Date(q.lo).toISOString()}, +${q.hi - q.lo} ms] on one host` +
            (Math.abs(off) > model.skewMs
              ? ` (beyond the model's tolerance of ${model.skewMs} ms: other verdicts may be unsound)`
              : ''),
        );
      }
    }
    if (![0, 200, 429, 503].includes(last.status) && last.status < 500) {
      report.violation(
        'unexpected-status',
        this.user,
        `${what}: ${last.status} ${JSON.stringify(last.body).slice(0, 300)}`,
      );
    }
    const outcome = s.admitted
      ? 'admitted'
      : s.failedOpen
        ? 'fail-open'
        : last.status === 429
          ? 'refused'
          : s.maybe
            ? 'unknown'
            : String(last.status);
    report.op(s.op, outcome);
    this.log(`  → ${outcome}${s.expiresAt ? ` until ${new Date(s.expiresAt).toISOString()}` : ''}`);
  }

  private recordReserve(s: SentReserve, burst = false): void {
    if (!s.admitted && !s.maybe) return;
    const { inGroup, estimate, sessionId, model } = s.d;
    this.deps.model.addReservation({
      id: s.id,
      model,
      inGroup,
      estimate,
      sessionId,
      ttlMs: s.ttlMs,
      at: s.q,
      certainty: s.admitted ? 'certain' : 'maybe',
      expiresAt: s.expiresAt,
      burst,
      instance: s.last.instance,
    });
  }

  /**
   * After a burst, at the instant its last answer arrived: if a sibling was certainly
   * admitted, the last admission in Redis' order left every limit it judged within its cap
   * (requests and slots below it before their +1; cost and tokens with the estimate added),
   * counting at least the siblings admitted before it and what a server had to show when the
   * burst began; nothing of this user can have added since: its next operation has not
   * started, holds only lapse and windows only move on. So a certain lower bound above a cap
   * there is an over-admission under every ordering (SPEC §4.1, §4.2). Effects acknowledged
   * in a disturbance count only if due by the burst's start (rule 6: a later one may turn
   * visible after the last admission).
   * Skipped: a limit whose window may have been edited during the burst (an edit may count
   * more), and sessions (a burst admits one session at most, judged per sibling).
   */
  private checkBurstCaps(sent: SentReserve[]): void {
    const { model, report } = this.deps;
    const admitted = sent.filter((s) => s.admitted);
    if (admitted.length === 0) return;
    const span: Interval = {
      lo: Math.min(...sent.map((s) => s.q.lo)),
      hi: Math.max(...sent.map((s) => s.q.hi)),
    };
    const after: Interval = { lo: span.hi, hi: span.hi };
    for (const id of new Set(admitted.flatMap((s) => model.applicableIds(s.d.inGroup)))) {
      const track = model.limits.get(id);
      if (!track || track.spec.metric === 'sessions' || model.windowsAt(track, span).length > 1) continue;
      const lower = model.lower(id, after, { clean: span.hi, disturbed: span.lo });
      if (!lower) continue;
      const { spec } = track;
      const committed = isAmountMetric(spec.metric) ? lower.used + lower.held : lower.used;
      if (committed <= spec.cap) continue;
      report.violation(
        `burst-cap-${spec.metric}`,
        this.user,
        `reserve burst of ${sent.length} (${admitted.map((s) => s.id).join(', ')} admitted) left ${spec.id} at certain ${formatAmount(spec.metric, committed)} > cap ${formatAmount(spec.metric, spec.cap)} at ${new Date(after.lo).toISOString()} (SPEC §4.1); certain: ${lower.parts.slice(0, 12).join(', ')}`,
      );
    }
  }

  /** A settle until answered 200 (a gateway retries: idempotency makes it safe). */
  private async settleAttempts(
    what: string,
    body: Record<string, unknown>,
    model: string,
    amounts: Amounts,
    attempts: Interval[],
    options: { withIds: boolean; reservation: Reservation | null; maxAttempts: number },
  ): Promise<Interval | null> {
    const { prng, report } = this.deps;
    let withIds = options.withIds || options.reservation === null;
    for (let attempt = 0; attempt < options.maxAttempts; attempt++) {
      const reservation = options.reservation;
      const payload = withIds ? { ...body, userId: this.user, model } : body;
      const r = await this.call('POST', '/settle', payload);
      attempts.push({ lo: r.lo, hi: r.hi });
      this.log(`${what} attempt ${attempt + 1}${withIds ? '' : ' (requestId only)'}: ${this.describe(r)}`);
      if (r.status === 200) {
        const answer = r.body as { duplicate?: boolean; costUsd?: number };
        if (answer.duplicate === true && attempts.length === 1) {
          report.violation(
            'settle-duplicate-first',
            this.user,
            `${what}: the first settle of this id answered duplicate:true`,
          );
        }
        if (Math.round((answer.costUsd ?? -1) * 1e6) !== amounts.cost) {
          report.violation(
            'settle-cost',
            this.user,
            `${what}: answered costUsd ${answer.costUsd}, sent ${usd(amounts.cost)}`,
          );
        }
        return { lo: r.lo, hi: r.hi };
      }
      if (r.status === 400 && !withIds && reservation) {
        // SPEC §4.2: without a known reservation the ids are required; while Redis is unreachable
        // the answer must be 503, never 400. Legitimate only if Redis may have lost the record.
        if (reservation.lost === null && reservation.certainty === 'certain') {
          report.violation(
            'settle-400',
            this.user,
            `${what}: requestId-only settle answered 400 ${JSON.stringify(r.body).slice(0, 200)} although reservation ${reservation.id} was admitted and Redis never lost it (SPEC §4.2: 503 while Redis is unreachable)`,
          );
        }
        withIds = true;
        continue;
      }
      if (r.status === 409) {
        report.violation(
          'settle-conflict',
          this.user,
          `${what}: 409 ${JSON.stringify(r.body).slice(0, 200)} for a retry with the same cost and tokens`,
        );
        return null;
      }
      if (!transient(r)) {
        report.violation(
          'unexpected-status',
          this.user,
          `${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`,
        );
        return null;
      }
      this.flag500(what, r);
      await sleep(Math.min(2_000, 250 * 2 ** attempt) + prng.int(0, 100));
    }
    return null;
  }

  private async settle(reservation: Reservation): Promise<void> {
    const { prng, model, report } = this.deps;
    const est = reservation.estimate;
    const amounts: Amounts = {
      cost: this.actual(est.cost, () => prng.int(1, 30) * 10_000, 0.1, 1000),
      input: this.actual(est.input, () => prng.int(1, 40) * 100, 0.05, 1),
      output: this.actual(est.output, () => prng.int(1, 30) * 100, 0.05, 1),
    };
    const withIds = prng.chance(0.7);
    const expired = (reservation.expiresAt ?? 0) <= Date.now();
    const what = `settle ${reservation.id} ${formatAmounts(amounts)}${expired ? ' (lapsed)' : ''}`;
    model.closing(reservation, { lo: Date.now(), hi: Date.now() });
    const attempts: Interval[] = [];
    const body = { requestId: reservation.id, ...settleFields(amounts), metadata: { chaos: true } };
    const ack = await this.settleAttempts(what, body, reservation.model, amounts, attempts, {
      withIds,
      reservation,
      maxAttempts: 6,
    });
    model.settleOutcome(reservation, amounts, attempts, ack);
    report.op('settle', ack ? 'acked' : 'unknown');
    if (!ack) {
      this.pending.push(async () => {
        const later = await this.settleAttempts(
          `${what} (final retry)`,
          body,
          reservation.model,
          amounts,
          attempts,
          {
            withIds: true,
            reservation,
            maxAttempts: 8,
          },
        );
        model.settleOutcome(reservation, amounts, attempts, later);
      });
    }
  }

  private async directSettle(): Promise<void> {
    const { prng, model, report, models } = this.deps;
    const id = `${this.user}-d${this.n++}`;
    const inGroup = prng.chance(0.8);
    const amounts: Amounts = {
      cost: prng.int(1, 30) * 10_000,
      input: prng.int(0, 40) * 100,
      output: prng.int(0, 30) * 100,
    };
    const what = `direct settle ${id} (${inGroup ? 'grouped' : 'ungrouped'}) ${formatAmounts(amounts)}`;
    const attempts: Interval[] = [];
    const name = inGroup ? models.grouped : models.ungrouped;
    const body = { requestId: id, ...settleFields(amounts) };
    const ack = await this.settleAttempts(what, body, name, amounts, attempts, {
      withIds: true,
      reservation: null,
      maxAttempts: 6,
    });
    model.directSettle({ id, inGroup, amounts, attempts, ack });
    report.op('direct-settle', ack ? 'acked' : 'unknown');
    if (!ack) {
      this.pending.push(async () => {
        const later = await this.settleAttempts(`${what} (final retry)`, body, name, amounts, attempts, {
          withIds: true,
          reservation: null,
          maxAttempts: 8,
        });
        model.directSettle({ id, inGroup, amounts, attempts, ack: later });
      });
    }
  }

  /**
   * A lost reply retried: the same cost and tokens again answer duplicate:true and charge
   * nothing (SPEC §4.5). Sometimes, as a negative check, a retry with other token counts:
   * 409 idempotency_conflict, nothing charged.
   */
  private async duplicateSettle(reservation: Reservation): Promise<void> {
    const { prng, report } = this.deps;
    const first = reservation.settle?.amounts ?? { cost: 0, input: 0, output: 0 };
    const conflict = prng.chance(0.3);
    const sent = conflict
      ? prng.chance(0.5)
        ? { ...first, input: first.input + prng.int(1, 50) }
        : { ...first, output: first.output + prng.int(1, 50) }
      : first;
    const what = `duplicate settle ${reservation.id} ${formatAmounts(sent)}${conflict ? ` (first ${formatAmounts(first)})` : ''}`;
    const r = await this.call('POST', '/settle', {
      requestId: reservation.id,
      ...settleFields(sent),
      userId: this.user,
      model: reservation.model,
    });
    this.log(`${what}: ${this.describe(r)}`);
    if (conflict) {
      if (r.status !== 409 && !transient(r)) {
        report.violation(
          'settle-token-conflict',
          this.user,
          `${what}: answered ${r.status} ${JSON.stringify(r.body).slice(0, 200)}, expected 409 idempotency_conflict for other token counts (SPEC §4.5)`,
        );
      } else if (r.status === 409 && codeOf(r) !== 'idempotency_conflict') {
        report.violation(
          'settle-token-conflict',
          this.user,
          `${what}: 409 with code ${codeOf(r) || 'none'}, expected idempotency_conflict (SPEC §4.5)`,
        );
      }
    } else if (r.status === 200) {
      const answer = r.body as { duplicate?: boolean; costUsd?: number };
      if (answer.duplicate !== true || Math.round((answer.costUsd ?? -1) * 1e6) !== sent.cost) {
        report.violation(
          'duplicate-settle',
          this.user,
          `${what}: answered ${JSON.stringify(answer).slice(0, 200)}, expected duplicate:true with the first cost`,
        );
      }
    } else if (!transient(r)) {
      report.violation(
        'unexpected-status',
        this.user,
        `${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`,
      );
    }
    this.flag500(what, r);
    report.op('duplicate-settle', `${conflict ? 'conflict ' : ''}${r.status}`);
  }

  private async release(reservation: Reservation): Promise<void> {
    const { prng, model, report, faults } = this.deps;
    const what = `release ${reservation.id}`;
    model.closing(reservation, { lo: Date.now(), hi: Date.now() });
    const attempts: Interval[] = [];
    let ack: Interval | null = null;
    let outcome = 'unknown';
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = await this.call('POST', '/release', { requestId: reservation.id });
      attempts.push({ lo: r.lo, hi: r.hi });
      this.log(`${what} attempt ${attempt + 1}: ${this.describe(r)}`);
      if (r.status === 200) {
        ack = { lo: r.lo, hi: r.hi };
        outcome = 'acked';
        break;
      }
      if (r.status === 404) {
        outcome = '404';
        const lapsed = (reservation.expiresAt ?? 0) <= r.hi;
        if (reservation.lost === null && !lapsed && attempts.length === 1) {
          report.violation('release-404', this.user, `${what}: 404 for a held reservation Redis never lost`);
        }
        break;
      }
      if (!transient(r)) {
        outcome = String(r.status);
        report.violation(
          'unexpected-status',
          this.user,
          `${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`,
        );
        break;
      }
      this.flag500(what, r);
      await sleep(Math.min(2_000, 250 * 2 ** attempt) + prng.int(0, 100));
    }
    if (outcome === '404') model.releaseUnknown(reservation, attempts);
    else {
      const all = { lo: Math.min(...attempts.map((a) => a.lo)), hi: Math.max(...attempts.map((a) => a.hi)) };
      model.releaseOutcome(reservation, attempts, ack, !faults.overlaps(all));
    }
    report.op('release', outcome);
  }

  private async extend(reservation: Reservation): Promise<void> {
    const { prng, model, report } = this.deps;
    const ttlMs = prng.int(5, 40) * 1000;
    const r = await this.call('POST', '/extend', { requestId: reservation.id, ttlSeconds: ttlMs / 1000 });
    this.log(`extend ${reservation.id} ttl ${ttlMs / 1000}s: ${this.describe(r)}`);
    const q = { lo: r.lo, hi: r.hi };
    if (r.status === 200) {
      const answer = r.body as { reservation?: { expiresAt?: string } };
      const at = answer.reservation?.expiresAt;
      model.extended(reservation, q, at ? Date.parse(at) : null, ttlMs);
    } else {
      // Unknown outcome (or no such endpoint yet): the hold may live until now + ttl.
      model.extended(reservation, q, null, ttlMs);
    }
    report.op('extend', String(r.status));
  }

  /**
   * One /check sent CHECK_BURST times at once to one instance, each judged alone: a check
   * records nothing, so the model's order holds. After a loss of data they meet the same
   * cold buckets together and share one rebuild.
   */
  private async checkBurst(): Promise<void> {
    const instance = this.deps.cluster.pick(this.deps.prng);
    if (!instance) return this.check();
    const d = this.demand();
    await Promise.all(Array.from({ length: CHECK_BURST }, () => this.check(d, instance, 'check-burst')));
  }

  private async check(
    d = this.demand(),
    instance: Instance | null = null,
    op: OpKind = 'check',
  ): Promise<void> {
    const { model, report } = this.deps;
    const body = {
      userId: this.user,
      model: d.model,
      ...estimateFields(d.estimate),
      ...(d.sessionId ? { sessionId: d.sessionId } : {}),
    };
    const r = instance
      ? await this.deps.cluster.call(instance, 'POST', '/check', body)
      : await this.call('POST', '/check', body);
    const what = `${op} (${d.inGroup ? 'grouped' : 'ungrouped'}, est ${formatAmounts(d.estimate)}${d.sessionId ? `, ${d.sessionId}` : ''})`;
    this.log(`${what}: ${this.describe(r)}`);
    if (r.status === 200 || r.status === 429) {
      judgeDecision(
        { model, report },
        {
          what,
          inGroup: d.inGroup,
          estimate: d.estimate,
          sessionId: d.sessionId,
          q: { lo: r.lo, hi: r.hi },
          failMode: this.deps.failMode,
        },
        r.status,
        r.body as DecisionBody,
      );
    } else if (!transient(r)) {
      report.violation(
        'unexpected-status',
        this.user,
        `${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`,
      );
    }
    this.flag500(what, r);
    report.op(op, String(r.status));
  }

  async usage(inGroup: boolean, final: boolean): Promise<{ buckets: BucketView[]; q: Interval } | null> {
    const { model, report, models } = this.deps;
    const name = inGroup ? models.grouped : models.ungrouped;
    const r = await this.call(
      'GET',
      `/usage?userId=${encodeURIComponent(this.user)}&model=${encodeURIComponent(name)}`,
    );
    const what = `${final ? 'final ' : ''}usage (${inGroup ? 'grouped' : 'ungrouped'})`;
    this.log(`${what}: ${this.describe(r)}`);
    const buckets = r.status === 200 ? ((r.body as { buckets?: BucketView[] }).buckets ?? []) : [];
    if (r.status === 200) {
      this.log(
        `  ${buckets.map((b) => `${b.metric}/${b.modelGroupId === null ? 'all' : 'group'}=${b.used}${b.held ? `+${b.held}` : ''}`).join(' ')}`,
      );
      judgeUsage({ model, report }, { what, inGroup, q: { lo: r.lo, hi: r.hi }, final }, buckets);
    } else if (!transient(r)) {
      report.violation(
        'unexpected-status',
        this.user,
        `${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`,
      );
    }
    this.flag500(what, r);
    if (!final) report.op('usage', String(r.status));
    return r.status === 200 ? { buckets, q: { lo: r.lo, hi: r.hi } } : null;
  }

  /** Retries the settles still unanswered; true when none is left unanswered. */
  async finish(): Promise<boolean> {
    for (const retry of this.pending.splice(0)) await retry();
    const { model } = this.deps;
    const open = [...model.reservations.values()].some((r) => r.settle && !r.settle.ack);
    return !open && [...model.directSettles.values()].every((d) => d.ack !== null);
  }
}
