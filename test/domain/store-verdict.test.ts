import { describe, expect, it } from 'vitest';
import { decide } from '../../src/domain/decide.js';
import { buildDecisionResponse } from '../../src/domain/decision.js';
import type { BucketState } from '../../src/domain/bucket-state.js';
import { bucket, ms } from './fixtures.js';

const NOW = ms('2027-01-04T12:00:00Z');
const HOUR = 18_000_000; // the buckets' 5h window

/** `decide` turns a store's states and verdicts into the decision, once (SPEC §4.1, §4.3, §4.8). */
describe('the store verdict becomes the decision', () => {
  // A requests bucket of 1 per 5h whose one request the reserve just recorded.
  const recorded = { used: 1, held: 0, timeline: [{ at: NOW, amount: 1 }], admits: true };

  describe('an admitted reserve (states after recording)', () => {
    const enforced = bucket({ metric: 'requests', slot: '5h', limit: 1, key: 'enforced' });
    const shadow = bucket({ metric: 'requests', slot: '5h', limit: 1, key: 'shadow', shadow: true });

    it('every bucket that admitted waits 0, though its state is now at the cap', () => {
      const states = new Map([
        ['enforced', recorded],
        ['shadow', recorded],
      ]);
      const decision = decide([enforced, shadow], states, { estimateMicros: 0 }, NOW, true);
      expect(decision).toMatchObject({ allowed: true, retryAfterMs: null, binding: null, shadowRefused: [] });
      expect(decision.verdicts.map((v) => [v.bucket.key, v.admitted, v.retryAfterMs])).toEqual([
        ['enforced', true, 0],
        ['shadow', true, 0],
      ]);
      // What the first /reserve under a shadow limit of 1 shows (test/http/decisions/shadow.test.ts).
      const body = buildDecisionResponse(decision).body;
      expect(body.buckets.find((b) => b.key === 'shadow')).toMatchObject({
        exceeded: false,
        retryAfterMs: 0,
      });
    });

    it('without the request verdict, the buckets’ own verdicts still decide', () => {
      const decision = decide([shadow], new Map([['shadow', recorded]]), { estimateMicros: 0 }, NOW);
      expect(decision.allowed).toBe(true);
      expect(decision.verdicts[0]).toMatchObject({ admitted: true, retryAfterMs: 0, nextFreeAt: NOW + HOUR });
    });

    it('a shadow bucket that refused keeps its refusal and its retry time', () => {
      // Found at 1 (refused), then charged this request too: both must leave before it admits.
      const timeline = [
        { at: NOW - 1_000, amount: 1 },
        { at: NOW, amount: 1 },
      ];
      const full = { used: 2, held: 0, timeline, admits: false };
      const states = new Map<string, BucketState>([
        ['enforced', { used: 0, held: 0, admits: true }],
        ['shadow', full],
      ]);
      const decision = decide([enforced, shadow], states, { estimateMicros: 0 }, NOW, true);
      expect(decision.allowed).toBe(true);
      expect(decision.shadowRefused.map((v) => v.bucket.key)).toEqual(['shadow']);
      expect(decision.verdicts[1]).toMatchObject({ admitted: false, retryAfterMs: HOUR });
    });
  });

  it('a replayed reserve is admitted whatever the buckets hold now', () => {
    const enforced = bucket({ metric: 'requests', slot: '5h', limit: 1, key: 'enforced' });
    // A peek judges a demand of nothing: the bucket the reservation filled says no.
    const now = { ...recorded, admits: false };
    const decision = decide([enforced], new Map([['enforced', now]]), { estimateMicros: 0 }, NOW, true);
    expect(decision).toMatchObject({ allowed: true, binding: null, retryAfterMs: null });
    expect(buildDecisionResponse(decision).body).toMatchObject({ reason: null, retryAfterMs: null });
  });

  it('a refusal names the binding bucket and its wait', () => {
    const enforced = bucket({ metric: 'requests', slot: '5h', limit: 1, key: 'enforced' });
    const found = { used: 1, held: 0, timeline: [{ at: NOW - 1_000, amount: 1 }], admits: false };
    const decision = decide([enforced], new Map([['enforced', found]]), { estimateMicros: 0 }, NOW, false);
    expect(decision.allowed).toBe(false);
    expect(decision.binding?.bucket.key).toBe('enforced');
    expect(decision.retryAfterMs).toBe(HOUR - 1_000);
  });
});
