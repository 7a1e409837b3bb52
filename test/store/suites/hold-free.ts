import { describe, expect, it } from 'vitest';
import type { CounterStore, DecideInput, StoreBucket } from '../../../src/store/counter-store.js';
import { bucket, decided, driver, freshSubject, MINUTE, rid, SECOND, stateOf, T0 } from '../fixtures.js';

/** `reserve.holdEstimates: false` (/authz, SPEC §7.1): estimates checked, never held. */
export function holdFreeSuite(store: () => CounterStore): void {
  const d = driver(store);
  const authorize = (
    subject: string,
    buckets: StoreBucket[],
    now: number,
    requestId: string,
    more: Partial<DecideInput> = {},
  ) =>
    store().decide({
      subject,
      buckets,
      now,
      estimate: 0,
      sessionId: null,
      sessionTtlMs: 10 * MINUTE,
      ...more,
      reserve: {
        requestId: rid(subject, requestId),
        bodyHash: `hash-${requestId}`,
        holdTtlMs: 10 * MINUTE,
        payload: `payload-${requestId}`,
        holdEstimates: false,
      },
    });

  describe('reservations without holds', () => {
    it('checks the estimate, holds nothing, counts the request and leaves a held record', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 1_000);
      const requests = bucket.requestsLog('requests', 5);
      await d.warm(u, [cost, requests]);
      const first = decided(await authorize(u, [cost, requests], T0, 'a1', { estimate: 700 }));
      expect(first.admitted).toBe(true);
      expect(stateOf(first, 'cost')).toMatchObject({ used: 0, held: 0 });
      expect(stateOf(first, 'requests').used).toBe(1);
      expect(first.reservation).toMatchObject({ state: 'held', expiresAt: T0 + 10 * MINUTE });
      expect(await d.reservation(u, 'a1')).toMatchObject({ state: 'held', payload: 'payload-a1' });
      // Nothing was held, so the same estimate fits again; one above the cap never does.
      expect(decided(await authorize(u, [cost, requests], T0, 'a2', { estimate: 700 })).admitted).toBe(true);
      expect(decided(await authorize(u, [cost, requests], T0, 'a3', { estimate: 1_001 })).admitted).toBe(
        false,
      );
      const states = await d.states(u, [cost, requests], T0);
      expect(states.get('cost')).toMatchObject({ used: 0, held: 0 });
      expect(states.get('requests')?.used).toBe(2);
    });

    it('leaves the holds of real reservations in the sum it checks against', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 1_000);
      await d.warm(u, [cost]);
      await d.reserve(u, [cost], T0, 'r1', { estimate: 600 });
      expect(decided(await authorize(u, [cost], T0, 'a1', { estimate: 500 })).admitted).toBe(false);
      expect(decided(await authorize(u, [cost], T0, 'a2', { estimate: 400 })).admitted).toBe(true);
      expect((await d.states(u, [cost], T0)).get('cost')?.held).toBe(600);
    });

    it('admits and records a new session, and lets its reconnect through', async () => {
      const u = freshSubject();
      const sessions = bucket.sessionsLog('sessions', 1);
      await d.warm(u, [sessions]);
      const admitted = await authorize(u, [sessions], T0, 'a1', { sessionId: 's1' });
      expect(stateOf(admitted, 'sessions')).toMatchObject({ used: 1, reconnect: false });
      expect(decided(await authorize(u, [sessions], T0 + SECOND, 'a2', { sessionId: 's1' })).admitted).toBe(
        true,
      );
      expect(decided(await authorize(u, [sessions], T0 + SECOND, 'a3', { sessionId: 's2' })).admitted).toBe(
        false,
      );
    });

    it('a settle of it charges the actual cost and, asked to, counts no request', async () => {
      const u = freshSubject();
      const buckets = [bucket.costSlices('cost', 1_000), bucket.requestsLog('requests', 5)];
      await d.warm(u, buckets);
      await authorize(u, buckets, T0, 'a1', { estimate: 100 });
      expect(await d.settle(u, buckets, T0 + SECOND, 'a1', 250)).toEqual({ kind: 'applied' });
      const states = await d.states(u, buckets, T0 + SECOND);
      expect(states.get('cost')).toMatchObject({ used: 250, held: 0 });
      expect(states.get('requests')?.used).toBe(1);
      expect((await d.reservation(u, 'a1'))?.state).toBe('settled');
    });

    it('a retry with the same request id returns the existing reservation and counts nothing twice', async () => {
      const u = freshSubject();
      const requests = bucket.requestsLog('requests', 5);
      await d.warm(u, [requests]);
      await authorize(u, [requests], T0, 'a1');
      expect(await authorize(u, [requests], T0 + SECOND, 'a1')).toMatchObject({
        kind: 'existing',
        reservation: { state: 'held', bodyHash: 'hash-a1' },
      });
      expect((await d.states(u, [requests], T0 + SECOND)).get('requests')?.used).toBe(1);
    });
  });
}
