import { formatAmount, formatAmounts, type Bound, type SessionStatus, type UserModel } from './model.js';
import { amountFor, isAmountMetric, type Amounts, type LimitSpec } from './profiles.js';
import type { SeedReport } from './report.js';
import {
  boundaryWithin,
  certainlyIn,
  describeWindow,
  possiblyIn,
  rangeAt,
  type Interval,
} from './windows.js';

/**
 * The checks. Each compares what a server said with the model's bounds (model.ts) and
 * files a violation only when no ordering of the concurrent events explains the answer:
 *
 * (c) an admission (a 200 /reserve, or a /check answering allowed) on a bucket whose
 *     certain usage already reaches the cap (SPEC §4.1), and the converse, a refusal by a
 *     bucket that cannot have been full;
 * (b) `used` / `held` of a bucket outside [lower, upper] (/usage probes during the run and
 *     after recovery);
 * (a) every acknowledged settle in the ledger exactly once with its cost and tokens (`judgeLedger`);
 * plus the window a reply places a bucket in (fixed, calendar, first_use `resetAt`).
 */

export interface BucketView {
  key: string;
  metric: string;
  modelGroupId: number | null;
  used: number;
  held: number;
  effectiveLimit: number;
  resetAt: string | null;
  exceeded: boolean;
}

export interface DecisionBody {
  allowed?: boolean;
  failOpen?: boolean;
  reservation?: { state: string; expiresAt: string } | null;
  buckets?: BucketView[];
}

export const limitIdOf = (b: Pick<BucketView, 'metric' | 'modelGroupId'>) =>
  `${b.metric}/${b.modelGroupId === null ? 'all' : 'group'}`;

const micros = (usdValue: number) => Math.round(usdValue * 1e6);
const amount = (spec: LimitSpec, value: number) => formatAmount(spec.metric, value);
const partsText = (b: Bound) => (b.parts.length === 0 ? 'none' : b.parts.slice(0, 12).join(', '));
const span = (q: Interval) => `[${new Date(q.lo).toISOString()}, +${q.hi - q.lo} ms]`;

export interface Judge {
  model: UserModel;
  report: SeedReport;
}

/** The server's view of a bucket in the units of the model (µ$ for cost, tokens as they are). */
function serverUsed(spec: LimitSpec, b: BucketView): { used: number; held: number } {
  return spec.metric === 'cost'
    ? { used: micros(b.used), held: micros(b.held) }
    : { used: b.used, held: b.held };
}

function checkBucketSet(j: Judge, what: string, inGroup: boolean, buckets: BucketView[]): void {
  const expected = [...j.model.applicableIds(inGroup)].sort();
  const got = buckets.map(limitIdOf).sort();
  if (expected.join(',') !== got.join(',')) {
    j.report.violation(
      'bucket-set',
      j.model.user,
      `${what}: buckets ${got.join(',') || 'none'} but SPEC §2 gives ${expected.join(',')} (${inGroup ? 'grouped' : 'ungrouped'} model)`,
    );
  }
}

/** fixed / calendar: `resetAt` is the end of the model's window; first_use: its start is the first usage. */
function checkWindow(j: Judge, what: string, b: BucketView, q: Interval): void {
  const track = j.model.limits.get(limitIdOf(b));
  if (!track || track.unknown) return;
  const resetAt = b.resetAt === null ? null : Date.parse(b.resetAt);
  const windows = j.model.windowsAt(track, q);
  const spec = track.spec;
  if (spec.reset === 'fixed' || spec.reset === 'calendar') {
    if (windows.some((w) => boundaryWithin(w, q, j.model.skewMs))) return;
    const ends = windows.map((w) => rangeAt(w, q.lo)?.end ?? null);
    if (!ends.includes(resetAt)) {
      j.report.violation(
        'window-misplaced',
        j.model.user,
        `${what}: ${spec.id} resetAt ${b.resetAt} but its window (${windows.map(describeWindow).join(' or ')}) ends at ${ends
          .map((e) => (e === null ? 'never' : new Date(e).toISOString()))
          .join(' or ')} (SPEC §1 Window)`,
      );
    }
  }
  if (spec.reset === 'first_use' && resetAt !== null) {
    const f = j.model.firstUse.get(spec.id);
    const length = windows[0]?.kind === 'first_use' ? windows[0].lengthMs : null;
    if (!f || length === null) return;
    const start = resetAt - length;
    const earliest = Math.min(f.possibleLo ?? q.lo, q.lo) - j.model.skewMs;
    const latest = (f.certainHi ?? q.hi) + j.model.skewMs;
    if (start < earliest || start > latest) {
      j.report.violation(
        'first-use-moved',
        j.model.user,
        `${what}: ${spec.id} window starts ${new Date(start).toISOString()} but the first usage was within ` +
          `[${new Date(earliest).toISOString()}, ${new Date(latest).toISOString()}] (SPEC §1: losing Redis never moves it)`,
      );
    }
  }
}

/**
 * A /reserve or /check answer. `estimate`: the µ$ and tokens sent; a cost or token bucket
 * judges its own part (`amountFor`). `admitted` is the server's verdict.
 */
export function judgeDecision(
  j: Judge,
  input: {
    what: string;
    inGroup: boolean;
    estimate: Amounts;
    sessionId: string | null;
    q: Interval;
    failMode: 'open' | 'closed';
    /** The session's status in each sessions limit (a burst's: as it was when sent). */
    sessionStatus?: (limitId: string) => SessionStatus;
  },
  status: number,
  body: DecisionBody,
): void {
  const { model, report } = j;
  const buckets = body.buckets ?? [];
  const { what, q, estimate, sessionId } = input;
  const sessionStatus = (id: string) =>
    sessionId === null ? null : (input.sessionStatus?.(id) ?? model.sessionStatus(id, sessionId));
  if (body.failOpen === true) {
    // FAIL_MODE=open: admitted without Redis, recorded nothing (SPEC §4.6): not an admission to judge.
    if (input.failMode === 'closed')
      report.violation('fail-open', model.user, `${what}: failOpen:true with FAIL_MODE=closed`);
    return;
  }
  checkBucketSet(j, what, input.inGroup, buckets);
  for (const b of buckets) checkWindow(j, what, b, q);
  const admitted = status === 200 && body.allowed === true;
  if (admitted) {
    for (const id of model.applicableIds(input.inGroup)) {
      const track = model.limits.get(id);
      const lower = model.lower(id, q);
      if (!track || !lower) continue;
      const spec = track.spec;
      const server = buckets.find((b) => limitIdOf(b) === id);
      const said = server
        ? `server said used ${amount(spec, serverUsed(spec, server).used)} held ${amount(spec, serverUsed(spec, server).held)}`
        : 'no bucket in reply';
      const where = `${spec.id} (${model.windowsAt(track, q).map(describeWindow).join(' or ')}) cap ${amount(spec, spec.cap)}`;
      let over: string | null = null;
      switch (spec.metric) {
        case 'cost':
        case 'input_tokens':
        case 'output_tokens':
        case 'tokens': {
          const own = amountFor(spec.metric, estimate);
          const committed = lower.used + lower.held;
          const full = own > 0 ? committed + own > spec.cap : committed >= spec.cap;
          if (full)
            over = `certain used ${amount(spec, lower.used)} + held ${amount(spec, lower.held)} + estimate ${amount(spec, own)} > cap`;
          break;
        }
        case 'requests':
        case 'concurrency':
          if (lower.used >= spec.cap) over = `certain count ${lower.used} ≥ cap`;
          break;
        case 'sessions':
          if (sessionStatus(id) === 'new' && lower.used >= spec.cap)
            over = `new session ${sessionId} but certain admissions ${lower.used} ≥ cap`;
          break;
      }
      if (over) {
        report.violation(
          `cap-${spec.metric}`,
          model.user,
          `${what} admitted at ${span(q)} on ${where}: ${over} (SPEC §4.1); ${said} (after this admission for /reserve); certain: ${partsText(lower)}`,
        );
      }
    }
    return;
  }
  if (status !== 429) return;
  for (const b of buckets.filter((x) => x.exceeded)) {
    const id = limitIdOf(b);
    const track = model.limits.get(id);
    const upper = model.upper(id, q);
    if (!track || !upper) continue;
    const spec = track.spec;
    let room: string | null = null;
    switch (spec.metric) {
      case 'cost':
      case 'input_tokens':
      case 'output_tokens':
      case 'tokens': {
        const own = amountFor(spec.metric, estimate);
        const committed = upper.used + upper.held;
        const fits = own > 0 ? committed + own <= spec.cap : committed < spec.cap;
        if (fits)
          room = `at most used ${amount(spec, upper.used)} + held ${amount(spec, upper.held)} + estimate ${amount(spec, own)} ≤ cap`;
        break;
      }
      case 'requests':
      case 'concurrency':
        if (upper.used < spec.cap) room = `at most ${upper.used} < cap`;
        break;
      case 'sessions':
        if (sessionStatus(id) === 'reconnect' && spec.cap > 0)
          room = `session ${sessionId} was admitted before: a reconnect passes whatever the count (SPEC §4.4)`;
        else if (sessionStatus(id) === 'new' && upper.used < spec.cap)
          room = `at most ${upper.used} admissions < cap`;
        break;
    }
    if (room) {
      const server = serverUsed(spec, b);
      report.violation(
        `refused-${spec.metric}`,
        model.user,
        `${what} refused at ${span(q)} by ${spec.id} (${describeWindow(track.defs[0]?.window ?? { kind: 'none' })}) cap ${amount(spec, spec.cap)}: ${room}; server said used ${amount(spec, server.used)} held ${amount(spec, server.held)}; possible: ${partsText(upper)}`,
      );
    }
  }
}

/** The last settles charged to a cost or token bucket, wherever their instants fall (for over-count reports). */
function latest(j: Judge, spec: LimitSpec): string {
  const metric = spec.metric;
  if (!isAmountMetric(metric)) return '';
  const charges = j.model.charges.filter((c) => c.limits.includes(spec.id)).slice(-4);
  if (charges.length === 0) return '';
  const text = charges
    .map(
      (c) =>
        `${c.origin} ${formatAmount(metric, amountFor(metric, c.amounts))} at ${new Date(c.at.lo).toISOString()}`,
    )
    .join(', ');
  return `; latest settles: ${text}`;
}

/** A /usage answer: every bucket's used (and held) within the model's bounds. */
export function judgeUsage(
  j: Judge,
  input: { what: string; inGroup: boolean; q: Interval; final: boolean },
  buckets: BucketView[],
): void {
  const { model, report } = j;
  const prefix = input.final ? 'final-' : '';
  checkBucketSet(j, input.what, input.inGroup, buckets);
  for (const b of buckets) {
    checkWindow(j, input.what, b, input.q);
    const id = limitIdOf(b);
    const track = model.limits.get(id);
    if (!track) continue;
    const spec = track.spec;
    const server = serverUsed(spec, b);
    const lower = model.lower(id, input.q);
    const upper = model.upper(id, input.q);
    const where = `${spec.id} (${model.windowsAt(track, input.q).map(describeWindow).join(' or ')})`;
    const at = `${input.what} at ${span(input.q)}`;
    if (lower && server.used < lower.used) {
      report.violation(
        `${prefix}usage-below`,
        model.user,
        `${at}: ${where} used ${amount(spec, server.used)} < certain ${amount(spec, lower.used)} (usage forgotten; SPEC §4.5/§4.6); certain: ${partsText(lower)}`,
      );
    }
    if (upper && server.used > upper.used) {
      report.violation(
        `${prefix}usage-above`,
        model.user,
        `${at}: ${where} used ${amount(spec, server.used)} > possible ${amount(spec, upper.used)} (counted twice or never happened); possible: ${partsText(upper)}${latest(j, spec)}`,
      );
    }
    if (!isAmountMetric(spec.metric)) continue;
    if (lower && server.held < lower.held) {
      report.violation(
        `${prefix}held-below`,
        model.user,
        `${at}: ${where} held ${amount(spec, server.held)} < certain ${amount(spec, lower.held)} (a hold forgotten without a Redis data loss); certain: ${partsText(lower)}`,
      );
    }
    if (upper && server.held > upper.held) {
      report.violation(
        `${prefix}held-above`,
        model.user,
        `${at}: ${where} held ${amount(spec, server.held)} > possible ${amount(spec, upper.held)} (a settled, released or expired hold still held); possible: ${partsText(upper)}`,
      );
    }
  }
}

export interface LedgerRow {
  request_id: string;
  user_id: string;
  cost_micros: string | number;
  input_tokens: string | number;
  output_tokens: string | number;
  status: string;
  reserved_at: Date | null;
  settled_at: Date;
  buckets: string[];
}

const rowAmounts = (row: LedgerRow): Amounts => ({
  cost: Number(row.cost_micros),
  input: Number(row.input_tokens),
  output: Number(row.output_tokens),
});
const sameAmounts = (a: Amounts, b: Amounts) =>
  a.cost === b.cost && a.input === b.input && a.output === b.output;

/** (a): every acknowledged settle is in the ledger exactly once with its cost and tokens; nothing else is. */
export function judgeLedger(models: UserModel[], rows: LedgerRow[], report: SeedReport): void {
  const byId = new Map<string, LedgerRow[]>();
  for (const row of rows) byId.set(row.request_id, [...(byId.get(row.request_id) ?? []), row]);
  const skew = models[0]?.skewMs ?? 0;
  const within = (t: number, attempts: Interval[]) =>
    attempts.some((a) => t >= a.lo - skew - 1 && t <= a.hi + skew + 1);
  for (const model of models) {
    const known = new Set<string>();
    const expectSettled = (id: string, sent: Amounts, attempts: Interval[], acked: boolean, what: string) => {
      known.add(id);
      const found = byId.get(id) ?? [];
      if (found.length > 1)
        report.violation('ledger-duplicate', model.user, `${what} ${id}: ${found.length} ledger rows`);
      const row = found[0];
      if (!row) {
        if (acked)
          report.violation(
            'ledger-missing',
            model.user,
            `${what} ${id} acknowledged (200) but not in usage_ledger`,
          );
        return;
      }
      if (row.status !== 'settled' || !sameAmounts(rowAmounts(row), sent)) {
        if (acked || row.status === 'settled') {
          const tokensOnly = row.status === 'settled' && rowAmounts(row).cost === sent.cost;
          report.violation(
            tokensOnly ? 'ledger-tokens' : 'ledger-cost',
            model.user,
            `${what} ${id}: ledger has status ${row.status} ${formatAmounts(rowAmounts(row))} (cost + input/output tokens), settled with ${formatAmounts(sent)}`,
          );
        }
      }
      const reservation = model.reservations.get(id);
      const clean =
        reservation &&
        reservation.lost === null &&
        acked &&
        attempts.length === 1 &&
        !model.disturbed(attempts);
      if (clean && row.status === 'settled') {
        const at = row.reserved_at?.getTime() ?? null;
        if (
          at === null ||
          at < reservation.reserveAt.lo - skew - 1 ||
          at > reservation.reserveAt.hi + skew + 1
        ) {
          report.violation(
            'ledger-reserved-at',
            model.user,
            `${what} ${id}: reserved_at ${row.reserved_at?.toISOString() ?? 'null'} but it was reserved at ${new Date(reservation.reserveAt.lo).toISOString()} and settled with Redis healthy (the request must count at its admission, SPEC §1 Metric)`,
          );
        }
      }
      if (row.status === 'settled' && !within(row.settled_at.getTime(), attempts)) {
        report.violation(
          'ledger-time',
          model.user,
          `${what} ${id}: settled_at ${row.settled_at.toISOString()} outside every settle attempt`,
        );
      }
    };
    for (const r of model.reservations.values()) {
      if (r.settle) expectSettled(r.id, r.settle.amounts, r.settle.attempts, r.settle.ack !== null, 'settle');
      else if (r.release) {
        known.add(r.id);
        const row = byId.get(r.id)?.[0];
        if (row && (row.status !== 'released' || Number(row.cost_micros) !== 0)) {
          report.violation(
            'ledger-release',
            model.user,
            `release ${r.id}: ledger row ${row.status} ${row.cost_micros}`,
          );
        }
      } else {
        known.add(r.id);
        const row = byId.get(r.id)?.[0];
        if (row && r.certainty === 'certain') {
          report.violation(
            'ledger-phantom',
            model.user,
            `reservation ${r.id} never settled or released has a ledger row (${row.status})`,
          );
        }
      }
    }
    for (const [id, d] of model.directSettles)
      expectSettled(id, d.amounts, d.attempts, d.ack !== null, 'direct settle');
    for (const h of model.history)
      expectSettled(h.requestId, h.amounts, [{ lo: h.settledAt, hi: h.settledAt }], true, 'history row');
    for (const row of rows) {
      if (row.user_id === model.user && !known.has(row.request_id)) {
        report.violation(
          'ledger-phantom',
          model.user,
          `ledger row ${row.request_id} (${row.status}) for a request never sent`,
        );
      }
    }
  }
}

/**
 * (b) cross-checked with SQL: after recovery a bucket's `used` is what the ledger says for
 * its window (SPEC §4.6: rebuilt from the ledger; editing a limit never forgets usage),
 * judged with the ledger's own timestamps. Cost and tokens: exactly the settled spend (µ$,
 * or the metric's tokens) in the window (a sliced rolling window may add one slice);
 * requests: at least the ledger's rows (open reservations come on top; the model judges those).
 */
export function judgeLedgerBuckets(
  j: Judge,
  input: { what: string; q: Interval; pendingSettles: boolean },
  buckets: BucketView[],
  rows: LedgerRow[],
): void {
  const { model, report } = j;
  for (const b of buckets) {
    const track = model.limits.get(limitIdOf(b));
    if (!track || track.unknown) continue;
    const metric = track.spec.metric;
    const byAmount = isAmountMetric(metric);
    if (!byAmount && metric !== 'requests') continue;
    const windows = model.windowsAt(track, input.q);
    const window = windows[0];
    if (windows.length !== 1 || !window || boundaryWithin(window, input.q, model.skewMs)) continue;
    let lo = 0;
    let hi = 0;
    for (const row of rows) {
      if (!row.buckets.includes(b.key)) continue;
      if (byAmount && row.status !== 'settled') continue;
      const t = byAmount ? row.settled_at.getTime() : (row.reserved_at ?? row.settled_at).getTime();
      const at = { lo: t, hi: t };
      const amount = byAmount ? amountFor(metric, rowAmounts(row)) : 1;
      // A retried settle may reach Redis at the retry, later than the ledger's instant; during an
      // edit's propagation the row may have been counted under the old definition.
      const retried = model.settleAttempts(row.request_id) > 1;
      if (certainlyIn(window, at, input.q, model.skewMs) && !model.editAmbiguous(track, at)) lo += amount;
      if (possiblyIn(window, at, input.q, model.skewMs) || model.editAmbiguous(track, at) || retried)
        hi += amount;
    }
    const used = serverUsed(track.spec, b).used;
    const where = `${input.what}: ${track.spec.id} (${describeWindow(window)}) used ${amount(track.spec, used)}`;
    if (used < lo) {
      report.violation(
        'final-ledger-below',
        model.user,
        `${where} < ${amount(track.spec, lo)} that usage_ledger holds in the window (SPEC §4.6: no settled spend is lost; editing a limit never forgets usage)`,
      );
    }
    if (byAmount && !track.edited && !input.pendingSettles && used > hi) {
      report.violation(
        'final-ledger-above',
        model.user,
        `${where} > ${amount(track.spec, hi)} that usage_ledger holds in the window (SPEC §4.6: nothing counted twice)`,
      );
    }
  }
}
