import { z } from 'zod';
import { requestId } from './decisions.js';

/** POST /extend (SPEC §4.2): a long stream keeps its hold and concurrency slot alive. */
export const extendBody = z
  .object({
    requestId: requestId.describe('The reservation to keep alive (1–200 printable characters)'),
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .describe('The new expiry is now + ttlSeconds (at most a day)'),
  })
  .meta({ id: 'ExtendRequest', examples: [{ requestId: 'r-1', ttlSeconds: 600 }] });

export const extendReply = z
  .object({
    requestId: z.string(),
    reservation: z.object({ state: z.literal('held'), expiresAt: z.string() }),
  })
  .meta({ id: 'ExtendResult' });
