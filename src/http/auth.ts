import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig, Token } from '../config.js';
import { AppError } from '../domain/errors.js';

export type Role = 'admin' | 'service';

export interface Principal {
  name: string;
  role: Role;
}

/** Lists kept from an earlier start (src/http/token-file.ts); a configured list wins. */
export type KeptTokens = Partial<Record<Role, Token[]>>;

export interface ResolvedTokens {
  admin: Token[];
  service: Token[];
  /** Tokens made up at start because the setting was empty and none was kept (never in production). */
  generated: { role: Role; token: string }[];
  /** Roles served from the kept lists because the setting was empty. */
  kept: Role[];
}

/**
 * Production refuses to start without both lists; elsewhere a missing list is the kept one,
 * or else one random token, which the caller keeps and prints once.
 */
export function resolveTokens(config: AppConfig, kept: KeptTokens = {}): ResolvedTokens {
  if (config.NODE_ENV === 'production' && (!config.ADMIN_TOKENS || !config.SERVICE_TOKENS)) {
    throw new Error('NODE_ENV=production requires both ADMIN_TOKENS and SERVICE_TOKENS');
  }
  const generated: ResolvedTokens['generated'] = [];
  const fromKept: Role[] = [];
  const resolve = (list: Token[] | undefined, role: Role): Token[] => {
    if (list) return list;
    const keptList = kept[role];
    if (keptList && keptList.length > 0) {
      fromKept.push(role);
      return keptList;
    }
    const token = `qg_${role}_${randomBytes(18).toString('base64url')}`;
    generated.push({ role, token });
    return [{ name: `generated-${role}`, token }];
  };
  return {
    admin: resolve(config.ADMIN_TOKENS, 'admin'),
    service: resolve(config.SERVICE_TOKENS, 'service'),
    generated,
    kept: fromKept,
  };
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Compares the presented token with every configured one in constant time: both sides
 * are hashed to 32 bytes (no length leak) and the loop never exits early.
 */
export function createAuthenticator(tokens: ResolvedTokens) {
  const known = [
    ...tokens.admin.map((t) => ({ name: t.name, role: 'admin' as const, digest: digest(t.token) })),
    ...tokens.service.map((t) => ({ name: t.name, role: 'service' as const, digest: digest(t.token) })),
  ];
  return (presented: string): Principal | null => {
    const candidate = digest(presented);
    let match: Principal | null = null;
    for (const k of known) {
      const equal = timingSafeEqual(candidate, k.digest);
      // Admin wins when one token is in both lists.
      if (equal && (match === null || k.role === 'admin')) match = { name: k.name, role: k.role };
    }
    return match;
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** Where a request carries its token, and how to tell a caller that sent none or a wrong one. */
export interface TokenSource {
  read(request: FastifyRequest): string | undefined;
  hint: string;
  /** `WWW-Authenticate` of its 401 (RFC 9110 §11.6.1), when the token travels in a standard scheme. */
  challenge?: string;
}

export const bearerToken: TokenSource = {
  read: (request) => {
    const header = request.headers.authorization;
    return header ? BEARER.exec(header)?.[1] : undefined;
  },
  hint: 'send Authorization: Bearer <token> with a configured token',
  challenge: 'Bearer realm="quotagate"',
};

/** /authz (SPEC §7.1): proxies forward the client's own Authorization, so the token has its own header. */
export const quotaTokenHeader: TokenSource = {
  read: (request) => {
    const header = request.headers['x-quota-token'];
    return typeof header === 'string' && header.trim() !== '' ? header.trim() : undefined;
  },
  hint: 'send X-Quota-Token: <token> with a configured service token',
};

/** An onRequest hook that admits `required` (admin passes everything). */
export function requireRole(
  authenticate: (token: string) => Principal | null,
  required: Role,
  source: TokenSource = bearerToken,
) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const token = source.read(request);
    const principal = token ? authenticate(token) : null;
    if (!principal) {
      // Set here, not by the error handler: only this hook knows which scheme the path takes.
      if (source.challenge) reply.header('www-authenticate', source.challenge);
      throw new AppError('unauthorized', source.hint);
    }
    if (required === 'admin' && principal.role !== 'admin') {
      throw new AppError('forbidden', 'this path needs an admin token');
    }
    request.principal = principal;
  };
}
