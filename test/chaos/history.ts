import type { Database } from '../../src/db/client.js';
import { insertEntries, type LedgerEntry } from '../../src/ledger/ledger-rows.js';
import type { Prng } from './prng.js';
import { amountFor, isAmountMetric, type Amounts, type LimitSpec, type UserProfile } from './profiles.js';

/**
 * Ledger history older than a rebuild's raw edge (LATE_APPLY_WINDOW_MS, 15 min), written
 * before a user's first decision, so every rebuild of the user (its first cold read, and
 * again after each FLUSHALL or Redis restart) takes that usage from `ledger_rollups`:
 * rolled-up request counts and rolled-up amounts. The rows go through the production write
 * (`insertEntries`, the statement that also writes the rollups), never hand-made rollups.
 *
 * History lands only in buckets whose window keeps it for the whole seed and never in a
 * first_use one (a window that opens during the run must not count older usage); it is
 * sized to bring the bucket close to its cap, so the run's own traffic is refused at it.
 */

/** One past ungrouped settle, as the model records it. */
export interface HistoryEntry {
  requestId: string;
  reservedAt: number;
  settledAt: number;
  amounts: Amounts;
  /** The checker's limit ids (`metric/scope`) the row counts in. */
  limits: string[];
}

export interface UserHistory {
  user: string;
  entries: HistoryEntry[];
  /** The display keys the rows name (SPEC §4.3), one per limit of `limits`. */
  keys: string[];
  summary: string;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** What a profile gets: its limits that keep old usage, how old the rows are, how close to the cap. */
interface Target {
  limits: string[];
  ageMs: [number, number];
  rows: (p: Prng, spec: (id: string) => LimitSpec) => number;
  /** What is left of each amount limit's cap after the history (the run reaches it). */
  headroom: (p: Prng, spec: LimitSpec) => number;
}

const TARGETS: Record<string, Target> = {
  // requests total + input_tokens total: the all-time rollup row, counts and amounts.
  fixed: {
    limits: ['requests/all', 'input_tokens/all'],
    ageMs: [HOUR, 3 * DAY],
    // The profile admits few requests (concurrency 1, sessions 2): 1–2 left reach the cap.
    rows: (p, spec) => spec('requests/all').cap - p.int(1, 2),
    // Over half the input cap left: the request cap, not this one, refuses first (a request holds ~2k).
    headroom: (p, spec) => Math.round((spec.cap * p.pick([0.55, 0.65, 0.75])) / 100) * 100,
  },
  // cost total (ungrouped requests only: the cost split).
  first_use: {
    limits: ['cost/all'],
    ageMs: [HOUR, 3 * DAY],
    rows: (p) => p.int(3, 8),
    headroom: (p) => p.int(25, 50) * 10_000,
  },
  // output_tokens rolling 1 h: minute rollup rows of a sliced window.
  calendar: {
    limits: ['output_tokens/all'],
    ageMs: [20 * MINUTE, 40 * MINUTE],
    rows: (p) => p.int(3, 8),
    headroom: (p) => p.int(30, 50) * 100,
  },
};

/** SPEC §4.3 display key of an all-models user bucket; checked against the server's before the run. */
export function historyKey(user: string, spec: LimitSpec): string {
  return `user:${encodeURIComponent(user)}|*|${spec.metric}|${spec.window ?? ''}`;
}

/** Splits `total` into `n` non-negative whole parts (multiples of `unit`, the rest on the last). */
function split(p: Prng, total: number, n: number, unit: number): number[] {
  const weights = Array.from({ length: n }, () => 1 + p.next());
  const sum = weights.reduce((a, b) => a + b, 0);
  const parts = weights.map((w) => Math.floor((total * w) / sum / unit) * unit);
  parts[n - 1] = (parts[n - 1] ?? 0) + total - parts.reduce((a, b) => a + b, 0);
  return parts;
}

/** The history of each user that gets one: `share` of the users whose profile has a target. */
export function planHistory(profiles: UserProfile[], prng: Prng, share: number, now: number): UserHistory[] {
  const out: UserHistory[] = [];
  profiles.forEach((profile, i) => {
    const target = TARGETS[profile.profile];
    const p = prng.fork(`history-${i}`);
    if (!target || !p.chance(share)) return;
    const spec = (id: string) => {
      const found = profile.limits.find((l) => l.id === id);
      if (!found) throw new Error(`profile ${profile.profile} has no limit ${id}`);
      return found;
    };
    const specs = target.limits.map(spec);
    const n = target.rows(p, spec);
    const totals = new Map(
      specs.filter((s) => isAmountMetric(s.metric)).map((s) => [s.id, s.cap - target.headroom(p, s)]),
    );
    const part = (id: string, unit: number) => {
      const total = totals.get(id);
      return total === undefined ? null : split(p, total, n, unit);
    };
    const cost = part('cost/all', 10_000);
    const input = part('input_tokens/all', 100);
    const output = part('output_tokens/all', 100);
    const entries: HistoryEntry[] = [];
    for (let k = 0; k < n; k++) {
      const settledAt = now - p.int(target.ageMs[0], target.ageMs[1]);
      entries.push({
        requestId: `${profile.user}-h${k}`,
        reservedAt: settledAt - p.int(1_000, 60_000),
        settledAt,
        // Amounts no targeted bucket counts are still drawn: the ledger row carries them.
        amounts: {
          cost: cost?.[k] ?? p.int(1, 30) * 10_000,
          input: input?.[k] ?? p.int(1, 30) * 100,
          output: output?.[k] ?? p.int(1, 30) * 100,
        },
        limits: target.limits,
      });
    }
    const counted = specs.map((s) => {
      if (!isAmountMetric(s.metric)) return `${s.id} +${n} of ${s.cap}`;
      const metric = s.metric;
      const sum = entries.reduce((a, e) => a + amountFor(metric, e.amounts), 0);
      return `${s.id} +${metric === 'cost' ? `$${sum / 1e6}` : sum} of ${metric === 'cost' ? `$${s.cap / 1e6}` : s.cap}`;
    });
    const ages = entries.map((e) => now - e.settledAt);
    const age = (ms: number) =>
      ms < 2 * HOUR ? `${Math.round(ms / MINUTE)} min` : `${Math.round(ms / HOUR)} h`;
    out.push({
      user: profile.user,
      entries,
      keys: specs.map((s) => historyKey(profile.user, s)),
      summary: `history: ${n} ledger rows settled ${age(Math.min(...ages))}–${age(Math.max(...ages))} ago: ${counted.join(', ')}`,
    });
  });
  return out;
}

/** Writes the rows through the production ledger write (rows and rollups in one statement). */
export async function writeHistory(
  database: Database,
  model: string,
  histories: UserHistory[],
): Promise<void> {
  const entries: LedgerEntry[] = histories.flatMap((h) =>
    h.entries.map((e) => ({
      requestId: e.requestId,
      userId: h.user,
      keyId: null,
      model,
      modelGroupId: null,
      costMicros: e.amounts.cost,
      inputTokens: e.amounts.input,
      outputTokens: e.amounts.output,
      countedInUserGlobal: e.limits.includes('cost/all'),
      countedInKeyGlobal: false,
      buckets: h.keys,
      status: 'settled',
      reservedAt: new Date(e.reservedAt),
      settledAt: new Date(e.settledAt),
      metadata: { chaos: 'history' },
      markDirty: false,
    })),
  );
  if (entries.length === 0) return;
  const written = await database.db.transaction((tx) => insertEntries(tx, entries));
  if (written.size !== entries.length)
    throw new Error(`history: ${written.size} of ${entries.length} ledger rows written`);
}
