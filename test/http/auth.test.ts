import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createAuthenticator, resolveTokens } from '../../src/http/auth.js';

describe('token resolution', () => {
  it('refuses to start in production without both lists', () => {
    const missingService = loadConfig({ NODE_ENV: 'production', ADMIN_TOKENS: 'ops:admin-token-1' });
    expect(() => resolveTokens(missingService)).toThrow(/ADMIN_TOKENS and SERVICE_TOKENS/);
    const missingBoth = loadConfig({ NODE_ENV: 'production' });
    expect(() => resolveTokens(missingBoth)).toThrow(/production/);
  });

  it('generates a token for a missing list outside production, and says so', () => {
    const tokens = resolveTokens(loadConfig({ ADMIN_TOKENS: 'ops:admin-token-1' }));
    expect(tokens.admin).toEqual([{ name: 'ops', token: 'admin-token-1' }]);
    expect(tokens.generated).toHaveLength(1);
    expect(tokens.generated[0]?.role).toBe('service');
    expect(tokens.service[0]?.token).toBe(tokens.generated[0]?.token);
    expect(tokens.service[0]?.token).toMatch(/^qg_service_[A-Za-z0-9_-]{24}$/);
  });
});

describe('authenticator', () => {
  const authenticate = createAuthenticator(
    resolveTokens(
      loadConfig({
        ADMIN_TOKENS: 'ops:admin-token-1,ci:admin-token-2',
        SERVICE_TOKENS: 'gw:service-token-1',
      }),
    ),
  );

  it('names the principal of each configured token', () => {
    expect(authenticate('admin-token-2')).toEqual({ name: 'ci', role: 'admin' });
    expect(authenticate('service-token-1')).toEqual({ name: 'gw', role: 'service' });
  });

  it('rejects unknown tokens, prefixes and extensions of known ones', () => {
    expect(authenticate('admin-token-')).toBeNull();
    expect(authenticate('admin-token-11')).toBeNull();
    expect(authenticate('')).toBeNull();
  });

  it('gives admin when a token is in both lists', () => {
    const both = createAuthenticator(
      resolveTokens(loadConfig({ ADMIN_TOKENS: 'ops:shared-token-1', SERVICE_TOKENS: 'gw:shared-token-1' })),
    );
    expect(both('shared-token-1')).toEqual({ name: 'ops', role: 'admin' });
  });
});
