import type { FastifyInstance } from 'fastify';
import type { Clock } from '../clock.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** "Now" for this request (epoch ms): the clock, or X-Quota-Test-Now when enabled. */
    now: number;
  }
}

export const TEST_NOW_HEADER = 'x-quota-test-now';

/** Reads "now" once per request, so every rule in one decision sees the same instant. */
export function registerRequestTime(app: FastifyInstance, clock: Clock, testClock: boolean): void {
  app.decorateRequest('now', 0);
  app.addHook('onRequest', async (request) => {
    const header = testClock ? request.headers[TEST_NOW_HEADER] : undefined;
    const forced = typeof header === 'string' && /^\d{1,16}$/.test(header) ? Number(header) : null;
    request.now = forced ?? clock.now();
  });
}
