/**
 * The open first-use window of a bucket from the starts PostgreSQL recorded (SPEC §4.1: a
 * window opens at the first usage and lasts its length; the next usage after it opens the
 * next). Most starts are the store's own (written behind an answer); the ledger statement
 * also records each settled request's instants that no recorded start covered when it
 * committed, as candidates: the store may never have seen that settle (an outage, an
 * instance dead before its apply). A candidate inside an earlier recorded window opened
 * nothing (the store's own start was not yet written, or raced), so the starts are walked
 * oldest first and each one inside the window before it is skipped: a candidate never
 * moves a window, and the spend it stands for is counted.
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
    if (open === null || start.startedAt >= open.startedAt + open.lengthMs) open = start;
  }
  return open !== null && open.startedAt > now - lengthMs ? open.startedAt : null;
}

/** How far back the recorded starts matter: a window open now, and one that could cover its start. */
export const firstUseLookbackMs = (lengthMs: number) => 2 * lengthMs;
