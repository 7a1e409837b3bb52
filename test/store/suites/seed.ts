import { describe, expect, it } from 'vitest';
import type { CounterStore, StoreBucket, SubjectSeed } from '../../../src/store/counter-store.js';
import { bucket, decided, driver, freshSubject, HOUR, MINUTE, rid, stateOf, T0 } from '../fixtures.js';

export function seedSuite(store: () => CounterStore): void {
  const d = driver(store);
  const seedOf = (subject: string, b: StoreBucket, usage: SubjectSeed['buckets'][number]['usage']) =>
    store().seed({
      subject,
      now: T0,
      buckets: [{ bucket: b, usage, sessions: [], firstUseStart: null }],
      watermark: null,
      generation: '',
    });

  describe('seed', () => {
    it('is set-if-absent: the first seed wins and nothing doubles', async () => {
      const u = freshSubject();
      const cost = bucket.costSlices('cost', 1_000);
      await seedOf(u, cost, [{ at: T0 - MINUTE, amount: 300, requestId: 'a' }]);
      await seedOf(u, cost, [{ at: T0 - MINUTE, amount: 500, requestId: 'b' }]);
      await seedOf(u, cost, [{ at: T0 - MINUTE, amount: 300, requestId: 'a' }]);
      expect((await d.states(u, [cost], T0)).get('cost')?.used).toBe(300);
    });

    it('racing seeds leave one value', async () => {
      const u = freshSubject();
      const requests = bucket.requestsLog('requests', 50, HOUR);
      const usage = Array.from({ length: 7 }, (_, i) => ({
        at: T0 - i * MINUTE,
        amount: 1,
        requestId: `q${i}`,
      }));
      await Promise.all(Array.from({ length: 8 }, () => seedOf(u, requests, usage)));
      expect((await d.states(u, [requests], T0)).get('requests')?.used).toBe(7);
    });

    it('keeps only usage inside the current window', async () => {
      const u = freshSubject();
      const requests = bucket.requestsLog('requests', 50, HOUR);
      await seedOf(u, requests, [
        { at: T0 - 2 * HOUR, amount: 1, requestId: 'old' },
        { at: T0 - HOUR + 1, amount: 1, requestId: 'edge' },
        { at: T0, amount: 1, requestId: 'now' },
      ]);
      const state = (await d.states(u, [requests], T0)).get('requests');
      expect(state?.used).toBe(2);
      expect(state?.timeline[0]?.at).toBe(T0 - HOUR + 1);
    });

    it("charges a late settle only where the seed's snapshot did not see its commit", async () => {
      const u = freshSubject();
      const [already, rebuilt] = [bucket.costSlices('already', 10_000), bucket.costSlices('rebuilt', 10_000)];
      await d.warm(u, [already]);
      await store().seed({
        subject: u,
        now: T0,
        buckets: [
          { bucket: already, usage: [], sessions: [], firstUseStart: null },
          {
            bucket: rebuilt,
            usage: [{ at: T0, amount: 200, requestId: rid(u, 'late') }],
            sessions: [],
            firstUseStart: null,
          },
        ],
        // xids below 100, and 101, 103, 104: committed when the rebuild read; 102 running.
        watermark: { snapshot: '100:105:102', excludedRequestId: rid(u, 'own') },
        generation: '',
      });
      const settle = (name: string, ledgerXid: string | null) =>
        store().settle({
          subject: u,
          requestId: rid(u, name),
          buckets: [already, rebuilt],
          now: T0 + MINUTE,
          cost: 10,
          countRequest: false,
          ledgerXid,
        });
      // Seen by the snapshot: counted by the seed in `rebuilt`, charged in `already` only.
      for (const [name, xid] of [
        ['late', '99'],
        ['also', '103'],
      ] as const)
        expect(await settle(name, xid)).toEqual({ kind: 'applied' });
      // Not seen (running, at or past xmax), unknown, or left out by the seed: charged in both.
      for (const [name, xid] of [
        ['running', '102'],
        ['after', '105'],
        ['unknown', null],
        ['own', '99'],
      ] as const)
        expect(await settle(name, xid)).toEqual({ kind: 'applied' });
      const states = await d.states(u, [already, rebuilt], T0 + MINUTE);
      expect(states.get('rebuilt')?.used).toBe(200 + 4 * 10);
      expect(states.get('already')?.used).toBe(6 * 10);
      expect(await settle('late', '99')).toEqual({ kind: 'already_applied' });
    });

    it("keeps a bucket's watermark to its own seed: a later seed of another bucket does not move it", async () => {
      const u = freshSubject();
      const [first, second] = [bucket.costSlices('first', 10_000), bucket.costSlices('second', 10_000)];
      const seedWith = (b: StoreBucket, snapshot: string) =>
        store().seed({
          subject: u,
          now: T0,
          buckets: [{ bucket: b, usage: [], sessions: [], firstUseStart: null }],
          watermark: { snapshot, excludedRequestId: null },
          generation: '',
        });
      await seedWith(first, '100:100:');
      await seedWith(second, '200:200:');
      // Also a second seed of `first` (a racing rebuild) leaves the first one's watermark.
      await seedWith(first, '200:200:');
      await store().settle({
        subject: u,
        requestId: rid(u, 'between'),
        buckets: [first, second],
        now: T0,
        cost: 7,
        countRequest: false,
        ledgerXid: '150',
      });
      const states = await d.states(u, [first, second], T0);
      expect(states.get('first')?.used).toBe(7);
      expect(states.get('second')?.used).toBe(0);
    });

    it('rebuilds sessions: admissions in the window count, live ones reconnect', async () => {
      const u = freshSubject();
      const sessions = bucket.sessionsLog('sessions', 2, HOUR);
      await store().seed({
        subject: u,
        now: T0,
        buckets: [
          {
            bucket: sessions,
            usage: [],
            sessions: [
              { sessionId: 'recent', admittedAt: T0 - 10 * MINUTE, activeUntil: T0 + 50 * MINUTE },
              { sessionId: 'old-but-live', admittedAt: T0 - 2 * HOUR, activeUntil: T0 + 10 * MINUTE },
              { sessionId: 'gone', admittedAt: T0 - 30 * MINUTE, activeUntil: T0 - MINUTE },
            ],
            firstUseStart: null,
          },
        ],
        watermark: null,
        generation: '',
      });
      const live = await d.check(u, [sessions], T0, { sessionId: 'old-but-live' });
      expect(stateOf(live, 'sessions')).toMatchObject({ used: 2, reconnect: true });
      expect(decided(live).admitted).toBe(true);
      expect(decided(await d.check(u, [sessions], T0, { sessionId: 'gone' })).admitted).toBe(false);
    });

    it('rebuilds an open first_use window from its stored start', async () => {
      const u = freshSubject();
      const cost = bucket.firstUse('fu', 'cost', 1_000, 5 * HOUR);
      await store().seed({
        subject: u,
        now: T0,
        buckets: [
          {
            bucket: cost,
            usage: [{ at: T0 - 30 * MINUTE, amount: 100, requestId: 'a' }],
            sessions: [],
            firstUseStart: T0 - HOUR,
          },
        ],
        watermark: null,
        generation: '',
      });
      expect((await d.states(u, [cost], T0)).get('fu')).toMatchObject({
        used: 100,
        windowStart: T0 - HOUR,
        windowEnd: T0 + 4 * HOUR,
      });
    });

    it('rebuilds window counters and total counters', async () => {
      const u = freshSubject();
      const [daily, total] = [
        bucket.window('daily', 'cost', 1_000, T0, T0 + 86_400_000),
        bucket.window('total', 'cost', 1_000, 0, null),
      ];
      const usage = [
        { at: T0 - HOUR, amount: 10, requestId: 'yesterday' },
        { at: T0 + HOUR, amount: 20, requestId: 'today' },
      ];
      await store().seed({
        subject: u,
        now: T0 + 2 * HOUR,
        buckets: [daily, total].map((b) => ({ bucket: b, usage, sessions: [], firstUseStart: null })),
        watermark: null,
        generation: '',
      });
      const states = await d.states(u, [daily, total], T0 + 2 * HOUR);
      expect(states.get('daily')?.used).toBe(20);
      expect(states.get('total')?.used).toBe(30);
    });
  });
}
