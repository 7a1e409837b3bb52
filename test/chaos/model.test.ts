import { describe, expect, it } from 'vitest';
import { UserModel, type Disturbances } from './model.js';
import type { Interval } from './windows.js';

/**
 * The oracle encodes the documented bound of session admissions exactly: an admission is
 * never forgotten, unless the instance that answered it was killed within the write-behind
 * bound (250 ms) and Redis lost its data. Found as a "usage-below" on
 * `npm run chaos -- --redis-cluster --seed 522853568`: i1.1 answered a new session 41 ms before
 * its SIGKILL, and a FLUSHALL followed — the double fault the README names.
 */
const T = 1_000_000;
const losses: Interval[] = [];
const disturbances: Disturbances = {
  overlaps: () => false,
  quietAfter: (t) => t,
  losses: () => losses,
};

function model(): UserModel {
  const limits = [
    {
      id: 'sessions/all',
      metric: 'sessions' as const,
      scope: 'all' as const,
      window: '1h',
      reset: 'rolling' as const,
      anchor: null,
      timezone: null,
      resetTime: null,
      cap: 5,
    },
  ];
  return new UserModel(
    { user: 'u', profile: 'test', limits },
    { pollMs: 1_000, strictLapsed: false, forgiveSessionMs: 0, skewMs: 0 },
    disturbances,
  );
}

function admit(m: UserModel, instance: string, at: number) {
  m.addReservation({
    id: `r-${at}`,
    model: 'm',
    inGroup: false,
    estimate: { cost: 0, input: 0, output: 0 },
    sessionId: 's-1',
    ttlMs: 60_000,
    at: { lo: at - 5, hi: at },
    certainty: 'certain',
    expiresAt: at + 60_000,
    instance,
  });
}

const lowerAfter = (m: UserModel) => m.lower('sessions/all', { lo: T + 5_000, hi: T + 5_001 })?.used;

describe('chaos oracle: session admissions and the write-behind bound', () => {
  it('forgives an admission whose instance died within 250 ms of answering, once Redis lost its data', () => {
    const m = model();
    admit(m, 'i1.1', T);
    m.instanceKilled('i1.1', { lo: T + 40, hi: T + 45 });
    expect(lowerAfter(m)).toBe(1); // killed, but Redis still has it
    const loss = { lo: T + 2_000, hi: T + 2_020 };
    losses.push(loss);
    m.dataLoss(loss);
    expect(lowerAfter(m)).toBe(0);
    losses.length = 0;
  });

  it('never forgives one whose instance lived past the bound, or another instance’s', () => {
    const late = model();
    admit(late, 'i1.1', T);
    late.instanceKilled('i1.1', { lo: T + 600, hi: T + 605 });
    const other = model();
    admit(other, 'i0.1', T);
    other.instanceKilled('i1.1', { lo: T + 40, hi: T + 45 });
    const loss = { lo: T + 2_000, hi: T + 2_020 };
    losses.push(loss);
    for (const m of [late, other]) {
      m.dataLoss(loss);
      expect(lowerAfter(m)).toBe(1);
    }
    losses.length = 0;
  });
});
