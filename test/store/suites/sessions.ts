import { describe, expect, it } from 'vitest';
import type { CounterStore, StoreBucket } from '../../../src/store/counter-store.js';
import {
  bucket,
  DAY,
  decided,
  driver,
  freshSubject,
  HOUR,
  MINUTE,
  SECOND,
  stateOf,
  T0,
} from '../fixtures.js';

export function sessionsSuite(store: () => CounterStore): void {
  const d = driver(store);
  const sessionTtlMs = 10 * MINUTE;

  describe('sessions (SPEC §4.4)', () => {
    it('a live session reconnects at a full count and counts nothing', async () => {
      const u = freshSubject();
      const sessions = bucket.sessionsLog('sessions', 1, HOUR);
      await d.warm(u, [sessions]);
      const first = await d.reserve(u, [sessions], T0, 'r1', { sessionId: 's1', sessionTtlMs });
      expect(stateOf(first, 'sessions')).toMatchObject({ used: 1, reconnect: false });
      const again = await d.reserve(u, [sessions], T0 + MINUTE, 'r2', { sessionId: 's1', sessionTtlMs });
      expect(decided(again).admitted).toBe(true);
      expect(stateOf(again, 'sessions')).toMatchObject({ used: 1, reconnect: true });
      expect(
        decided(await d.reserve(u, [sessions], T0 + MINUTE, 'r3', { sessionId: 's2', sessionTtlMs }))
          .admitted,
      ).toBe(false);
    });

    it('a reservation names the buckets it admitted its session to, and a retry gets them back', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 1_000);
      const one = bucket.sessionsLog('one', 1, HOUR);
      const two = bucket.sessionsLog('two', 2, HOUR);
      await d.warm(u, [cost, one, two]);
      await d.reserve(u, [cost, two], T0, 'r1', { sessionId: 's1', sessionTtlMs });
      // s1 is new in `one` only: a reconnect in `two`.
      const second = await d.reserve(u, [cost, one, two], T0 + 1, 'r2', { sessionId: 's1', sessionTtlMs });
      expect(decided(second).reservation?.newSessions).toEqual([1]);
      const retried = (requestId: string, buckets: StoreBucket[]) =>
        d.reserve(u, buckets, T0 + 2, requestId, { sessionId: 's1', sessionTtlMs });
      for (const [requestId, buckets] of [
        ['r1', [cost, two]],
        ['r2', [cost, one, two]],
      ] as const)
        expect(await retried(requestId, [...buckets])).toMatchObject({
          kind: 'existing',
          reservation: { newSessions: [1] },
        });
      const plain = await d.reserve(u, [cost], T0 + 3, 'r3');
      expect(decided(plain).reservation?.newSessions).toEqual([]);
    });

    it('an expired session asks again as a new admission', async () => {
      const u = freshSubject();
      const one = bucket.sessionsLog('one', 1, HOUR);
      const two = bucket.sessionsLog('two', 2, HOUR);
      await d.warm(u, [one, two]);
      await d.reserve(u, [one, two], T0, 'r1', { sessionId: 's1', sessionTtlMs });
      const expired = T0 + sessionTtlMs;
      const states = await d.states(u, [one, two], expired, 's1');
      expect(states.get('two')?.reconnect).toBe(false);
      expect(decided(await d.check(u, [one], expired, { sessionId: 's1' })).admitted).toBe(false);
      const renewed = await d.reserve(u, [two], expired, 'r2', { sessionId: 's1', sessionTtlMs });
      expect(decided(renewed).admitted).toBe(true);
      expect(stateOf(renewed, 'two')).toMatchObject({ used: 2, reconnect: false });
    });

    it('times a full sessions bucket by its oldest admission in the window', async () => {
      const u = freshSubject();
      const sessions = bucket.sessionsLog('sessions', 2, HOUR);
      await d.warm(u, [sessions]);
      await d.reserve(u, [sessions], T0, 'r1', { sessionId: 's1', sessionTtlMs });
      await d.reserve(u, [sessions], T0 + MINUTE, 'r2', { sessionId: 's2', sessionTtlMs });
      const refused = await d.check(u, [sessions], T0 + 30 * MINUTE, { sessionId: 's3' });
      expect(decided(refused).admitted).toBe(false);
      expect(stateOf(refused, 'sessions').timeline).toEqual([{ at: T0, amount: 1 }]);
      expect(decided(await d.check(u, [sessions], T0 + HOUR, { sessionId: 's3' })).admitted).toBe(true);
    });

    it('remembers at most max(limit, 1000) live sessions, whatever their TTL (SPEC §4.1)', async () => {
      const u = freshSubject();
      const sessions = bucket.sessionsLog('sessions', 2, SECOND);
      const yearLong = { sessionTtlMs: 365 * DAY };
      await d.warm(u, [sessions]);
      const at = (i: number) => T0 + i * 600;
      for (let i = 0; i <= 1000; i++) {
        const admitted = await d.reserve(u, [sessions], at(i), `r${i}`, { sessionId: `s${i}`, ...yearLong });
        expect(decided(admitted).admitted).toBe(true);
      }
      const later = at(1001);
      const states = async (session: string) =>
        (await d.states(u, [sessions], later, session)).get('sessions');
      // The session active shortest was pushed out: it asks again as a new admission.
      expect((await states('s0'))?.reconnect).toBe(false);
      expect((await states('s1'))?.reconnect).toBe(true);
      expect((await states('s1000'))?.reconnect).toBe(true);
    });

    it('a request without a session id neither checks nor records sessions', async () => {
      const u = freshSubject();
      const sessions = bucket.sessionsLog('sessions', 1, HOUR);
      await d.warm(u, [sessions]);
      await d.reserve(u, [sessions], T0, 'r1', { sessionId: 's1', sessionTtlMs });
      const plain = await d.reserve(u, [sessions], T0, 'r2');
      expect(decided(plain).admitted).toBe(true);
      expect(stateOf(plain, 'sessions').used).toBe(1);
    });
  });
}
