import { describe, expect, it } from 'vitest';
import { admits, remainingOf } from '../../src/domain/admission.js';
import { decide } from '../../src/domain/decide.js';
import type { BucketState } from '../../src/domain/bucket-state.js';
import { bucket, ms, USD } from './fixtures.js';

const NOW = ms('2027-01-04T12:00:00Z');
const state = (used: number, held = 0, extra: Partial<BucketState> = {}): BucketState => ({
  used,
  held,
  ...extra,
});
const cost = bucket({ metric: 'cost', limit: 10 * USD });

describe('cost admission', () => {
  it('admits an estimate that lands exactly on the cap', () => {
    expect(admits(cost, state(6 * USD, 3 * USD), { estimateMicros: 1 * USD })).toBe(true);
  });

  it('refuses when the hold would pass the cap by one micro-dollar', () => {
    expect(admits(cost, state(6 * USD, 3 * USD), { estimateMicros: 1 * USD + 1 })).toBe(false);
  });

  it('refuses without an estimate once used + held reach the cap', () => {
    expect(admits(cost, state(7 * USD, 3 * USD), { estimateMicros: 0 })).toBe(false);
    expect(admits(cost, state(7 * USD, 3 * USD - 1), { estimateMicros: 0 })).toBe(true);
  });

  it('reports remaining as max(0, effectiveLimit − used − held)', () => {
    expect(remainingOf(cost, state(6 * USD, 3 * USD))).toBe(1 * USD);
    expect(remainingOf(cost, state(15 * USD))).toBe(0);
  });
});

describe('count admission', () => {
  const requests = bucket({ metric: 'requests', slot: '1m', limit: 3 });

  it('admits while the count is below the cap', () => {
    expect(admits(requests, state(2), { estimateMicros: 0 })).toBe(true);
    expect(admits(requests, state(3), { estimateMicros: 0 })).toBe(false);
  });

  it('treats concurrency as slots in use', () => {
    const concurrency = bucket({ metric: 'concurrency', slot: 'concurrent', limit: 2 });
    expect(admits(concurrency, state(1), { estimateMicros: 0 })).toBe(true);
    expect(admits(concurrency, state(2), { estimateMicros: 0 })).toBe(false);
  });
});

describe('session admission', () => {
  const sessions = bucket({ metric: 'sessions', slot: '5h', limit: 2 });

  it('lets a live session reconnect whatever the count', () => {
    expect(admits(sessions, state(5, 0, { reconnect: true }), { estimateMicros: 0, sessionId: 's-1' })).toBe(
      true,
    );
  });

  it('refuses a new session when the admissions fill the cap', () => {
    expect(admits(sessions, state(2), { estimateMicros: 0, sessionId: 's-3' })).toBe(false);
    expect(admits(sessions, state(1), { estimateMicros: 0, sessionId: 's-3' })).toBe(true);
  });

  it('does not evaluate sessions for a request without a session id', () => {
    const verdict = decide([sessions], new Map([[sessions.key, state(9)]]), { estimateMicros: 0 }, NOW);
    expect(verdict.allowed).toBe(true);
    expect(verdict.verdicts[0]?.evaluated).toBe(false);
  });
});

describe('a limit of 0', () => {
  it('refuses every metric, even a reconnect', () => {
    for (const metric of ['cost', 'requests', 'concurrency'] as const) {
      expect(admits(bucket({ metric, limit: 0 }), state(0), { estimateMicros: 0 })).toBe(false);
    }
    const blockedSessions = bucket({ metric: 'sessions', limit: 0 });
    expect(
      admits(blockedSessions, state(0, 0, { reconnect: true }), { estimateMicros: 0, sessionId: 's' }),
    ).toBe(false);
  });

  it('is lifted by an active boost', () => {
    expect(admits(bucket({ metric: 'requests', limit: 0, boost: 1 }), state(0), { estimateMicros: 0 })).toBe(
      true,
    );
  });
});

describe('decisions', () => {
  it('admits only if every bucket admits', () => {
    const requests = bucket({ metric: 'requests', slot: '1m', limit: 3 });
    const states = new Map([
      [cost.key, state(1 * USD)],
      [requests.key, state(3)],
    ]);
    const decision = decide([cost, requests], states, { estimateMicros: 1 * USD }, NOW);
    expect(decision.allowed).toBe(false);
    expect(decision.verdicts.map((v) => v.admitted)).toEqual([true, false]);
    expect(decision.binding?.bucket.key).toBe(requests.key);
  });

  it('allows a request with no bucket', () => {
    expect(decide([], new Map(), { estimateMicros: 5 }, NOW)).toMatchObject({
      allowed: true,
      retryAfterMs: null,
    });
  });

  it('treats a bucket the store did not report as empty', () => {
    expect(decide([cost], new Map(), { estimateMicros: 10 * USD }, NOW).allowed).toBe(true);
  });
});

describe('states as the store reports them', () => {
  it('matches states to buckets by id', () => {
    const requests = bucket({ metric: 'requests', slot: '1m', limit: 1 });
    const decision = decide([requests], [{ id: requests.key, used: 1, held: 0 }], { estimateMicros: 0 }, NOW);
    expect(decision.allowed).toBe(false);
  });
});
