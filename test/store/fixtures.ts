import { randomBytes } from 'node:crypto';
import type {
  CounterStore,
  DecideInput,
  DecideOutcome,
  StoreBucket,
  SubjectSeed,
} from '../../src/store/counter-store.js';

export const T0 = Date.parse('2027-01-04T00:00:00Z');
export const SECOND = 1_000;
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** A subject no other test touches. */
export const freshSubject = (label = 'u') => `${label}-${randomBytes(6).toString('hex')}`;

export const bucket = {
  costSlices: (id: string, limit: number, lengthMs = HOUR, sliceMs = MINUTE): StoreBucket => ({
    id,
    metric: 'cost',
    counting: { mode: 'slices', lengthMs, sliceMs, floor: 0 },
    limit,
  }),
  requestsLog: (id: string, limit: number, lengthMs = MINUTE): StoreBucket => ({
    id,
    metric: 'requests',
    counting: { mode: 'log', lengthMs, floor: 0 },
    limit,
  }),
  sessionsLog: (id: string, limit: number, lengthMs = HOUR): StoreBucket => ({
    id,
    metric: 'sessions',
    counting: { mode: 'log', lengthMs, floor: 0 },
    limit,
  }),
  window: (
    id: string,
    metric: 'cost' | 'requests',
    limit: number,
    start: number,
    end: number | null,
  ): StoreBucket => ({
    id,
    metric,
    counting: { mode: 'window', start, end },
    limit,
  }),
  firstUse: (id: string, metric: 'cost' | 'requests', limit: number, lengthMs = 5 * HOUR): StoreBucket => ({
    id,
    metric,
    counting: { mode: 'first_use', lengthMs, floor: 0 },
    limit,
  }),
  concurrency: (id: string, limit: number): StoreBucket => ({
    id,
    metric: 'concurrency',
    counting: { mode: 'concurrency' },
    limit,
  }),
};

/** A seed with no usage: makes the buckets warm (as a rebuild of a new subject would). */
export function emptySeed(subject: string, buckets: StoreBucket[], now: number): SubjectSeed {
  return {
    subject,
    now,
    buckets: buckets.map((b) => ({ bucket: b, usage: [], sessions: [], firstUseStart: null })),
    watermark: null,
    generation: '',
  };
}

/** Request ids are global (one reservation per id): tests name them per subject. */
export const rid = (subject: string, name: string) => `${subject}/${name}`;

/** Thin call helpers over a store, with the defaults most tests want; request ids go through `rid`. */
export function driver(store: () => CounterStore) {
  const base = (subject: string, buckets: StoreBucket[], now: number) => ({
    subject,
    buckets,
    now,
    estimate: 0,
    sessionId: null,
    sessionTtlMs: 10 * MINUTE,
    reserve: null,
  });
  return {
    warm: (subject: string, buckets: StoreBucket[], now = T0) =>
      store().seed(emptySeed(subject, buckets, now)),
    check: (subject: string, buckets: StoreBucket[], now: number, more: Partial<DecideInput> = {}) =>
      store().decide({ ...base(subject, buckets, now), ...more }),
    reserve: (
      subject: string,
      buckets: StoreBucket[],
      now: number,
      requestId: string,
      more: Partial<DecideInput> & { holdTtlMs?: number } = {},
    ) =>
      store().decide({
        ...base(subject, buckets, now),
        ...more,
        reserve: {
          requestId: rid(subject, requestId),
          bodyHash: `hash-${requestId}`,
          holdTtlMs: more.holdTtlMs ?? 10 * MINUTE,
          payload: `payload-${requestId}`,
        },
      }),
    settle: (
      subject: string,
      buckets: StoreBucket[],
      now: number,
      requestId: string,
      cost: number,
      countRequest = false,
    ) => store().settle({ subject, requestId: rid(subject, requestId), buckets, now, cost, countRequest }),
    release: (subject: string, buckets: StoreBucket[], now: number, requestId: string) =>
      store().release(subject, rid(subject, requestId), buckets, now),
    reservation: (subject: string, requestId: string) => store().reservation(rid(subject, requestId)),
    states: async (subject: string, buckets: StoreBucket[], now: number, sessionId: string | null = null) => {
      const peeked = await store().peek(subject, buckets, now, sessionId);
      if (peeked.kind !== 'states') throw new Error(`expected states, got cold ${peeked.buckets.join(', ')}`);
      return new Map(peeked.states.map((s) => [s.id, s]));
    },
  };
}

type Decided = Extract<DecideOutcome, { kind: 'decided' }>;

/** Narrows an outcome to a decision (fails the test otherwise). */
export function decided(outcome: DecideOutcome): Decided {
  if (outcome.kind !== 'decided') throw new Error(`expected a decision, got ${JSON.stringify(outcome)}`);
  return outcome;
}

export const stateOf = (outcome: DecideOutcome, id: string) => {
  const state = decided(outcome).states.find((s) => s.id === id);
  if (!state) throw new Error(`no state for ${id}`);
  return state;
};
