import { describe, expect, it } from 'vitest';
import { parseApply, parseDecide, ScriptReplyError } from '../../src/store/redis/replies.js';
import { bucket, T0 } from './fixtures.js';

describe('script replies', () => {
  const buckets = [bucket.requestsLog('requests', 5), bucket.concurrency('slots', 2)];

  it('reads a decision with its states and window bounds', () => {
    const reply = ['decided', 1, [3, 0, '', 0, [T0 - 10, 1], 1], [1, 0, '', 0, [T0 + 5, 1], 0]];
    expect(parseDecide(reply, buckets, T0)).toEqual({
      kind: 'decided',
      admitted: true,
      reservation: null,
      states: [
        {
          id: 'requests',
          used: 3,
          held: 0,
          windowStart: T0 - 60_000 + 1,
          windowEnd: null,
          reconnect: false,
          timeline: [{ at: T0 - 10, amount: 1 }],
          admits: true,
        },
        {
          id: 'slots',
          used: 1,
          held: 0,
          windowStart: null,
          windowEnd: null,
          reconnect: false,
          timeline: [{ at: T0 + 5, amount: 1 }],
          admits: false,
        },
      ],
    });
  });

  it('names cold buckets by id, with the generation a seed must carry', () => {
    expect(parseDecide(['cold', 'g1', 0, 2], buckets, T0)).toEqual({
      kind: 'cold',
      buckets: ['slots'],
      generation: 'g1',
      fresh: false,
    });
    expect(parseApply(['cold', '', 1, 1], buckets)).toEqual({
      kind: 'cold',
      buckets: ['requests'],
      generation: '',
      fresh: true,
    });
  });

  it('refuses replies of another shape instead of guessing', () => {
    const bad: unknown[] = [
      'OK',
      ['decided', 1, [3, 0, '', 0, []]],
      ['decided', 1, [3, 'x', '', 0, []], [0, 0, '', 0, []]],
      ['cold', 9],
      ['cold', '', 9],
      ['cold', '', 0, 9],
      ['existing', 'pending', 'h', '1', 'p'],
      ['later'],
    ];
    for (const reply of bad)
      expect(() => parseDecide(reply, buckets, T0), JSON.stringify(reply)).toThrow(ScriptReplyError);
    expect(() => parseApply(['done'], buckets)).toThrow(ScriptReplyError);
  });
});
