import { describe, expect, it } from 'vitest';
import type { CounterStore } from '../../../src/store/counter-store.js';
import { bucket, decided, driver, freshSubject, MINUTE, rid, SECOND, T0 } from '../fixtures.js';

export function lifecycleSuite(store: () => CounterStore): void {
  const d = driver(store);
  const buckets = () => [
    bucket.costSlices('cost', 10_000),
    bucket.requestsLog('requests', 10),
    bucket.concurrency('slots', 5),
  ];

  describe('reservations', () => {
    it('an admitted reserve returns its held reservation, found again from the request id', async () => {
      const u = freshSubject();
      await d.warm(u, buckets());
      const outcome = decided(await d.reserve(u, buckets(), T0, 'r1', { estimate: 100, holdTtlMs: MINUTE }));
      const expected = {
        requestId: rid(u, 'r1'),
        subject: u,
        state: 'held',
        bodyHash: 'hash-r1',
        expiresAt: T0 + MINUTE,
        payload: 'payload-r1',
        newSessions: [],
      };
      expect(outcome.reservation).toEqual(expected);
      expect(await d.reservation(u, 'r1')).toEqual(expected);
      expect(await store().reservation(rid(u, 'never'))).toBeNull();
    });

    it('a retried reserve returns the existing reservation and holds nothing twice', async () => {
      const u = freshSubject();
      await d.warm(u, buckets());
      await d.reserve(u, buckets(), T0, 'r1', { estimate: 100 });
      const retry = await d.reserve(u, buckets(), T0 + SECOND, 'r1', { estimate: 100 });
      expect(retry).toMatchObject({
        kind: 'existing',
        reservation: { state: 'held', bodyHash: 'hash-r1', subject: u },
      });
      const states = await d.states(u, buckets(), T0 + SECOND);
      expect(states.get('cost')?.held).toBe(100);
      expect(states.get('requests')?.used).toBe(1);
      expect(states.get('slots')?.used).toBe(1);
    });

    it('the same request id under another subject answers with the first reservation and records nothing', async () => {
      const [a, b] = [freshSubject('a'), freshSubject('b')];
      const all = [...buckets(), bucket.sessionsLog('sessions', 5)];
      await d.warm(a, all);
      await d.warm(b, all);
      const requestId = rid(a, 'shared');
      const reserve = (subject: string) =>
        store().decide({
          subject,
          buckets: all,
          now: T0,
          estimate: 100,
          sessionId: 's1',
          sessionTtlMs: MINUTE,
          reserve: { requestId, bodyHash: `hash-${subject}`, holdTtlMs: MINUTE, payload: subject },
        });
      expect(decided(await reserve(a)).admitted).toBe(true);
      expect(await reserve(b)).toMatchObject({
        kind: 'existing',
        reservation: { subject: a, bodyHash: `hash-${a}` },
      });
      const states = await d.states(b, all, T0, 's1');
      expect([...states.values()].map((s) => s.used + s.held)).toEqual([0, 0, 0, 0]);
      expect(states.get('sessions')?.reconnect).toBe(false);
      expect(await store().reservation(requestId)).toMatchObject({ subject: a });
    });

    it('a request id whose first reserve was refused is free for another subject', async () => {
      const [a, b] = [freshSubject('a'), freshSubject('b')];
      const requestId = rid(a, 'refused-first');
      const reserve = (subject: string, limit: number) =>
        store().decide({
          subject,
          buckets: [bucket.concurrency('slots', limit)],
          now: T0,
          estimate: 0,
          sessionId: null,
          sessionTtlMs: MINUTE,
          reserve: { requestId, bodyHash: 'h', holdTtlMs: MINUTE, payload: subject },
        });
      expect(decided(await reserve(a, 0)).admitted).toBe(false);
      expect(decided(await reserve(b, 1)).reservation).toMatchObject({ subject: b, state: 'held' });
      expect(await store().reservation(requestId)).toMatchObject({ subject: b });
    });
  });

  describe('settle', () => {
    it('is applied once: a retry is already_applied and charges nothing twice', async () => {
      const u = freshSubject();
      await d.warm(u, buckets());
      await d.reserve(u, buckets(), T0, 'r1', { estimate: 100 });
      expect(await d.settle(u, buckets(), T0 + SECOND, 'r1', 250)).toEqual({ kind: 'applied' });
      expect(await d.settle(u, buckets(), T0 + SECOND, 'r1', 250)).toEqual({ kind: 'already_applied' });
      const states = await d.states(u, buckets(), T0 + SECOND);
      expect(states.get('cost')).toMatchObject({ used: 250, held: 0 });
      expect(states.get('requests')?.used).toBe(1);
      expect(states.get('slots')?.used).toBe(0);
      expect((await d.reservation(u, 'r1'))?.state).toBe('settled');
      expect(await d.reserve(u, buckets(), T0 + 2 * SECOND, 'r1')).toMatchObject({
        kind: 'existing',
        reservation: { state: 'settled' },
      });
      expect(await d.release(u, buckets(), T0 + 2 * SECOND, 'r1')).toEqual({ kind: 'already_applied' });
    });

    it('records the full cost even above the estimate and the cap', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 1_000);
      await d.warm(u, [cost]);
      await d.reserve(u, [cost], T0, 'r1', { estimate: 100 });
      await d.settle(u, [cost], T0 + SECOND, 'r1', 1_500);
      expect((await d.states(u, [cost], T0 + SECOND)).get('cost')).toMatchObject({ used: 1_500, held: 0 });
    });

    it('a settle after a release still charges', async () => {
      const u = freshSubject();
      await d.warm(u, buckets());
      await d.reserve(u, buckets(), T0, 'r1', { estimate: 100 });
      await d.release(u, buckets(), T0 + SECOND, 'r1');
      expect(await d.settle(u, buckets(), T0 + 2 * SECOND, 'r1', 70)).toEqual({ kind: 'applied' });
      const states = await d.states(u, buckets(), T0 + 2 * SECOND);
      expect(states.get('cost')).toMatchObject({ used: 70, held: 0 });
      expect(states.get('requests')?.used).toBe(1);
      expect((await d.reservation(u, 'r1'))?.state).toBe('settled');
    });

    it('a settle without a reservation counts the request when asked to', async () => {
      const u = freshSubject();
      await d.warm(u, buckets());
      await d.settle(u, buckets(), T0, 'direct', 40, true);
      const states = await d.states(u, buckets(), T0);
      expect(states.get('cost')?.used).toBe(40);
      expect(states.get('requests')?.used).toBe(1);
      expect(await d.reservation(u, 'direct')).toBeNull();
    });

    it('a settle after the hold expired still charges', async () => {
      const u = freshSubject();
      await d.warm(u, buckets());
      await d.reserve(u, buckets(), T0, 'r1', { estimate: 100, holdTtlMs: SECOND });
      expect(await d.settle(u, buckets(), T0 + MINUTE, 'r1', 90)).toEqual({ kind: 'applied' });
      expect((await d.states(u, buckets(), T0 + MINUTE)).get('cost')).toMatchObject({ used: 90, held: 0 });
    });
  });
}
