import { serializerCompiler } from 'fastify-type-provider-zod';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { decisionReply, settleReply } from '../../src/http/schemas/decisions.js';
import { replySerializer } from '../../src/http/serializer.js';

const route = (schema: z.ZodType) => ({ schema, method: 'POST', url: '/check', httpStatus: '200' });

const bucket = {
  key: 'user:u-1|*|cost|daily',
  axis: 'user',
  ownerId: 'u-1',
  modelGroupId: null,
  metric: 'cost',
  window: 'daily',
  reset: 'calendar',
  limit: 10,
  boost: 0.5,
  effectiveLimit: 10.5,
  used: 1.234567,
  held: 0.02,
  remaining: 9.245433,
  resetAt: '2027-01-05T00:00:00.000Z',
  nextFreeAt: null,
  retryAfterMs: null,
  exceeded: false,
  shadow: false,
  source: { subjectType: 'user', subjectId: 'u-1', limitId: 7 },
};

describe('reply serializer', () => {
  it('writes a decision exactly as the zod serializer does', () => {
    const decision = {
      allowed: false,
      status: 'rate_limited',
      requestId: 'r-1',
      reservation: { state: 'held', expiresAt: '2027-01-04T10:05:00.000Z' },
      retryAfterMs: 1500,
      reason: 'user:u-1|*|cost|daily exceeded',
      buckets: [bucket, { ...bucket, key: 'key:k-1|3|requests|1h', axis: 'key', modelGroupId: 3 }],
      shadowRefused: ['user:u-1|*|requests|1m'],
      failOpen: false,
    };
    const fast = replySerializer([decisionReply])(route(decisionReply));
    expect(fast(decision)).toBe(serializerCompiler(route(decisionReply))(decision));
  });

  it('writes a settle result exactly as the zod serializer does', () => {
    const settled = {
      requestId: 'r-1',
      status: 'settled',
      duplicate: false,
      costUsd: 0.0173,
      countedInUserGlobal: true,
      countedInKeyGlobal: false,
      buckets: ['user:u-1|*|cost|daily'],
    };
    const fast = replySerializer([settleReply])(route(settleReply));
    expect(fast(settled)).toBe(serializerCompiler(route(settleReply))(settled));
  });
});
