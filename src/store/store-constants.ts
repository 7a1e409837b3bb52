import { EXACT_LOG_MAX_CAP } from '../domain/counting.js';

/**
 * Lifetimes and bounds shared by both adapters (the Lua scripts receive them as ARGV, so
 * this file is their single source).
 */

/**
 * How long a settle's apply to the counter store may trail its ledger commit (a retried
 * settle, an apply intent's sweep): a repeated settle frees a dead first apply's hold within
 * it (decisions/settle-idempotency.ts), and the store's applied markers below live as long.
 * A late apply of a settle a rebuild already counted is told by the seed's watermark
 * (SeedWatermark in counter-store.ts), which has no such bound.
 */
export const LATE_APPLY_WINDOW_MS = 15 * 60_000;

/** A settle's applied marker: the late-apply window, never shorter. */
export const APPLIED_MARKER_TTL_MS = LATE_APPLY_WINDOW_MS;

/**
 * A reservation record outlives its hold by this much, so a late settle still finds its
 * frozen buckets in Redis (and a late release learns it was settled). Not tied to the
 * late-apply window: past it a settle reads the payload from PostgreSQL instead.
 */
export const RESERVATION_GRACE_MS = 15 * 60_000;

/** An idle subject's warm flags lapse after this; its next decision rebuilds from the ledger (exact, just slower). */
export const WARM_TTL_MS = 24 * 3_600_000;

/** Added to every usage TTL over the data's relevance, for clock offset between instances and Redis. */
export const TTL_MARGIN_MS = 60_000;

/**
 * A sliding log keeps its newest max(limit, LOG_KEEP_MIN) entries. Trimming the oldest is
 * exact while the limit stays (they leave the window first); the floor keeps it exact when a
 * boost raises the limit, up to the cap at which buckets stop being logs.
 */
export const LOG_KEEP_MIN = EXACT_LOG_MAX_CAP;

/**
 * Live sessions a sessions bucket remembers (SPEC §4.1: memory per bucket is bounded
 * whatever `sessionTtlSeconds` callers send): the ones active longest are kept. A session
 * pushed out asks again as a new admission, which can only refuse sooner, never admit more.
 */
export const activeSessionsKept = (limit: number) => Math.max(Math.ceil(limit), LOG_KEEP_MIN);
