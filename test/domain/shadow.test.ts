import { describe, expect, it } from 'vitest';
import { resolveBuckets } from '../../src/domain/buckets.js';
import { decide } from '../../src/domain/decide.js';
import { buildDecisionResponse } from '../../src/domain/decision.js';
import { bucket, limit, ms, snapshot, USD } from './fixtures.js';

const NOW = ms('2027-01-04T12:00:00Z');

describe('shadow buckets (SPEC §4.8)', () => {
  const enforced = bucket({ metric: 'requests', slot: '1h', limit: 10, key: 'enforced' });
  const shadow = bucket({ metric: 'cost', limit: 1 * USD, key: 'shadow', shadow: true });
  const states = new Map([
    ['enforced', { used: 2, held: 0 }],
    ['shadow', { used: 3 * USD, held: 0 }],
  ]);

  it('a shadow bucket that would refuse is reported, and the decision is allowed', () => {
    const decision = decide([enforced, shadow], states, { estimateMicros: 0 }, NOW);
    expect(decision.allowed).toBe(true);
    expect(decision.binding).toBeNull();
    expect(decision.shadowRefused.map((v) => v.bucket.key)).toEqual(['shadow']);
    const response = buildDecisionResponse(decision);
    expect(response.statusCode).toBe(200);
    expect(response.body.shadowRefused).toEqual(['shadow']);
    expect(response.body.buckets.find((b) => b.key === 'shadow')).toMatchObject({
      shadow: true,
      exceeded: true,
    });
    // Headers and retry times consider enforced buckets only.
    expect(response.headers['RateLimit-Policy']).toContain('"enforced"');
    expect(response.headers['Retry-After']).toBeUndefined();
  });

  it('the winner of the merge defines the mode; SHADOW_MODE makes every bucket shadow', () => {
    const snap = snapshot({
      limits: [
        limit({ metric: 'requests', cap: 5, window: '1h', mode: 'shadow' }),
        limit({ metric: 'cost', cap: 10 * USD, window: '5h' }),
      ],
    });
    const request = { userId: 'u-42', model: 'any' };
    const modes = (shadowMode: boolean) =>
      resolveBuckets(snap, request, NOW, { defaultTimezone: 'UTC', shadowMode }).buckets.map((b) => [
        b.metric,
        b.shadow,
      ]);
    expect(modes(false)).toEqual([
      ['cost', false],
      ['requests', true],
    ]);
    expect(modes(true)).toEqual([
      ['cost', true],
      ['requests', true],
    ]);
  });
});
