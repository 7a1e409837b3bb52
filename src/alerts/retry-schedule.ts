/**
 * When a failed delivery is tried again (SPEC §5.1): about 1 s after the first failure,
 * doubling, at most 10 minutes apart, while the event is younger than the retry window.
 * No jitter: deliveries of one event to one receiver are already spread by their failures.
 */
export const FIRST_RETRY_MS = 1_000;
export const MAX_RETRY_GAP_MS = 10 * 60_000;

/** The gap after the `attempts`-th failed attempt (1-based). */
export function retryGap(attempts: number): number {
  const doublings = Math.max(0, Math.min(attempts - 1, 30));
  return Math.min(FIRST_RETRY_MS * 2 ** doublings, MAX_RETRY_GAP_MS);
}

/** The next attempt's time (epoch ms), or null: it would fall past the window, so the delivery failed. */
export function nextAttemptAt(
  failedAt: number,
  attempts: number,
  eventCreatedAt: number,
  windowMs: number,
): number | null {
  const next = failedAt + retryGap(attempts);
  return next <= eventCreatedAt + windowMs ? next : null;
}

export const retryWindowMs = (hours: number) => Math.round(hours * 3_600_000);
