import type { FastifyReply } from 'fastify';

/**
 * The headers of every page quotagate serves to a browser (the console and /docs): both
 * load only their own scripts and styles and only talk to this origin. Inline styles stay
 * allowed (Preact and swagger-ui set style attributes); inline scripts and eval do not.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'referrer-policy': 'no-referrer',
} as const;

export function setSecurityHeaders(reply: FastifyReply): FastifyReply {
  return reply.headers(SECURITY_HEADERS);
}
