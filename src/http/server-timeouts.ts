import type { ServerOptions } from 'node:http';

/** Headers alone get at most this long: a gateway sends them at once, a slowloris does not. */
const HEADERS_TIMEOUT_MS = 10_000;
/**
 * How often Node looks for requests past their deadline (its default is 30 s, which would
 * let a 1 s deadline stretch to 31 s). The check walks the open connections only.
 */
const CHECK_INTERVAL_MS = 1_000;

/**
 * Fastify options that bound how long a client may take to send one request: the whole
 * request (headers and body) within `requestTimeoutMs` (REQUEST_TIMEOUT_MS), its headers
 * within 10 s. Past either, Node answers 408 and closes the connection. Fastify's default is
 * no bound at all, so a client could hold a request (and its socket) open forever.
 */
export function serverTimeouts(requestTimeoutMs: number): {
  requestTimeout: number;
  http: ServerOptions;
} {
  return {
    requestTimeout: requestTimeoutMs,
    http: {
      headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeoutMs),
      connectionsCheckingInterval: CHECK_INTERVAL_MS,
    },
  };
}
