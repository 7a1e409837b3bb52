import { sliceStart } from '../domain/counting.js';
import { firstUseOpen } from '../domain/first-use.js';
import { rollingStart } from '../domain/windows.js';
import { warmField } from './counting-signature.js';
import type { StoreBucket, SubjectSeed } from './counter-store.js';
import { activeSessionsKept, LOG_KEEP_MIN } from './store-constants.js';

/**
 * What a seed writes for one bucket (a rebuild's usage becoming live structures), already filtered to the bucket's current window and
 * shaped like its live structure, so both adapters write exactly the same thing.
 */
export interface SeedWrite {
  bucket: StoreBucket;
  field: string;
  /** log: event times, oldest first, trimmed like the live log. */
  events: number[];
  /** slices: [slice start, amount], oldest first. */
  slices: [number, number][];
  /** window / first_use: the counter; null when no first-use window is open. */
  counter: { start: number; used: number } | null;
  /** Sessions still active at `now`: [sessionId, activeUntil]. */
  active: [string, number][];
}

type SeedEntry = SubjectSeed['buckets'][number];
interface Event {
  at: number;
  amount: number;
}

/** Concurrency buckets are not seeded (slots are not in the ledger). */
export function seedWrites(seed: SubjectSeed): SeedWrite[] {
  return seed.buckets.filter((e) => e.bucket.metric !== 'concurrency').map((e) => seedWrite(e, seed.now));
}

function seedWrite(entry: SeedEntry, now: number): SeedWrite {
  const { bucket } = entry;
  const write: SeedWrite = {
    bucket,
    field: warmField(bucket),
    events: [],
    slices: [],
    counter: null,
    active: entry.sessions
      .filter((s) => s.activeUntil > now)
      .sort((a, b) => b.activeUntil - a.activeUntil)
      .slice(0, activeSessionsKept(bucket.limit))
      .map((s) => [s.sessionId, s.activeUntil]),
  };
  const events = eventsOf(entry);
  const c = bucket.counting;
  switch (c.mode) {
    case 'log': {
      const keep = Math.max(bucket.limit, LOG_KEEP_MIN);
      const from = rollingStart(c, now);
      write.events = events
        .filter((e) => e.at >= from)
        .map((e) => e.at)
        .sort((a, b) => a - b)
        .slice(-keep);
      break;
    }
    case 'slices':
      write.slices = sliced(
        events.filter((e) => e.at >= rollingStart(c, now)),
        c.sliceMs,
      );
      break;
    case 'window':
      write.counter = {
        start: c.start,
        used: sum(events.filter((e) => e.at >= c.start && (c.end === null || e.at < c.end))),
      };
      break;
    case 'first_use':
      if (firstUseOpen(entry.firstUseStart, c, now)) {
        const start = entry.firstUseStart;
        write.counter = { start, used: sum(events.filter((e) => e.at >= start)) };
      }
      break;
    case 'concurrency':
      break;
  }
  return write;
}

/**
 * Sessions count admissions; requests and cost their entry's amount: 1 per raw request,
 * or a rollup slice's request count / µ$ (a rollup entry stands for many requests).
 */
function eventsOf(entry: SeedEntry): Event[] {
  switch (entry.bucket.metric) {
    case 'sessions':
      return entry.sessions.map((s) => ({ at: s.admittedAt, amount: 1 }));
    default:
      return entry.usage.map((u) => ({ at: u.at, amount: u.amount }));
  }
}

function sliced(events: Event[], sliceMs: number): [number, number][] {
  const slices = new Map<number, number>();
  for (const e of events) {
    const start = sliceStart(e.at, sliceMs);
    slices.set(start, (slices.get(start) ?? 0) + e.amount);
  }
  return [...slices.entries()].sort((a, b) => a[0] - b[0]);
}

const sum = (events: Event[]) => events.reduce((total, e) => total + e.amount, 0);
