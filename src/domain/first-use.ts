/**
 * First-use windows (SPEC §4.1), the one statement of the rule: a window opens at the
 * first usage and lasts its length; the next usage after it opens the next. A reset marker
 * (`floor`) after a window's start closes it, so the next usage opens a fresh one (what an
 * operator resetting it expects).
 *
 * Copies that cannot import this file are held to it by conformance cases:
 * `src/store/redis/lua/usage.lua` (first_use_open, test/store/suites/window-rules.ts) and
 * the ledger statement's `opened` SQL (src/ledger/ledger-statement.ts,
 * test/ledger/first-use-sql.test.ts).
 */

/** What places a first-use window: its length and the bucket's reset marker (0 if none). */
export interface FirstUseRule {
  lengthMs: number;
  floor: number;
}

/** Whether the window opened at `start` (null: none) still counts usage at `now`. */
export function firstUseOpen(start: number | null, rule: FirstUseRule, now: number): start is number {
  return start !== null && now < start + rule.lengthMs && start >= rule.floor;
}

/** Where usage at `now` counts: the open window's start, or `now` (that usage opens the next). */
export function firstUseStartAt(start: number | null, rule: FirstUseRule, now: number): number {
  return firstUseOpen(start, rule, now) ? start : now;
}

/**
 * The ledger's side. Most starts PostgreSQL records are the store's own (written behind an
 * answer); the ledger statement also records each settled request's instants that no
 * recorded start covered when it committed, as candidates: the store may never have seen
 * that settle (an outage, an instance dead before its apply). A candidate inside an earlier
 * recorded window opened nothing (the store's own start was not yet written, or raced), so
 * the starts are walked oldest first and each one inside the window before it is skipped:
 * a candidate never moves a window, and the spend it stands for is counted.
 */
export interface RecordedStart {
  startedAt: number;
  /** The window length the start was recorded under. */
  lengthMs: number;
}

/** The start of the window open at `now` (of `lengthMs`, reset marker `floor`), or null. */
export function openFirstUseWindow(
  starts: readonly RecordedStart[],
  now: number,
  lengthMs: number,
  floor: number,
): number | null {
  let open: RecordedStart | null = null;
  for (const start of [...starts].sort((a, b) => a.startedAt - b.startedAt)) {
    if (start.startedAt < floor) continue;
    const previous = open === null ? null : open.startedAt;
    if (!firstUseOpen(previous, { lengthMs: open?.lengthMs ?? 0, floor }, start.startedAt)) open = start;
  }
  const latest = open === null ? null : open.startedAt;
  return firstUseOpen(latest, { lengthMs, floor }, now) ? latest : null;
}

/**
 * The instants of a settled request that the ledger records as candidate starts: those no
 * recorded start (judged by the bucket's current `lengthMs`, markers aside: the rebuild
 * applies them) covers. The instants are judged against the recorded starts only, not
 * against each other (openFirstUseWindow skips a candidate inside another's window).
 */
export function firstUseCandidates(
  instants: readonly number[],
  recordedStarts: readonly number[],
  lengthMs: number,
): number[] {
  const covers = (start: number, at: number) =>
    start <= at && firstUseOpen(start, { lengthMs, floor: -Infinity }, at);
  const uncovered = instants.filter((at) => !recordedStarts.some((start) => covers(start, at)));
  return [...new Set(uncovered)].sort((a, b) => a - b);
}

/** How far back the recorded starts matter: a window open now, and one that could cover its start. */
export const firstUseLookbackMs = (lengthMs: number) => 2 * lengthMs;
