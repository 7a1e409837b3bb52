import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createAuthenticator } from '../../src/http/auth.js';
import { loadOrCreateTokens, TokenFileError, tokenFilePath } from '../../src/http/token-file.js';

describe('tokens kept under DATA_DIR', () => {
  let root: string;
  let dataDir: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'quotagate-tokens-'));
    dataDir = path.join(root, 'data', 'nested'); // not there yet: the first start creates it
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const start = (env: Record<string, string> = {}) =>
    loadOrCreateTokens(loadConfig({ NODE_ENV: 'development', DATA_DIR: dataDir, ...env }));
  const file = () => tokenFilePath(dataDir);

  it('generates both lists on the first start and keeps them in a 0600 file', () => {
    const first = start();
    expect(first.file).toBe(path.join(dataDir, 'tokens.json'));
    expect(first.tokens.generated.map((g) => g.role)).toEqual(['admin', 'service']);
    expect(first.tokens.kept).toEqual([]);
    expect(statSync(file()).mode & 0o777).toBe(0o600);
    const admin = first.tokens.admin[0]?.token ?? '';
    const service = first.tokens.service[0]?.token ?? '';
    expect(JSON.parse(readFileSync(file(), 'utf8'))).toEqual({
      ADMIN_TOKENS: `generated-admin:${admin}`,
      SERVICE_TOKENS: `generated-service:${service}`,
    });
    expect(readdirSync(dataDir)).toEqual(['tokens.json']); // no temp file left behind
  });

  it('reads the same tokens on the next start and generates nothing', () => {
    const first = start();
    const before = readFileSync(file(), 'utf8');
    const second = start();
    expect(second.tokens.generated).toEqual([]);
    expect(second.tokens.kept).toEqual(['admin', 'service']);
    expect(second.tokens.admin).toEqual(first.tokens.admin);
    expect(second.tokens.service).toEqual(first.tokens.service);
    expect(readFileSync(file(), 'utf8')).toBe(before);
    const authenticate = createAuthenticator(second.tokens);
    expect(authenticate(first.tokens.admin[0]?.token ?? '')).toEqual({
      name: 'generated-admin',
      role: 'admin',
    });
  });

  it('lets a configured list win over the kept one, and keeps only what it generated', () => {
    start();
    const kept = JSON.parse(readFileSync(file(), 'utf8')) as Record<string, string>;
    const next = start({ ADMIN_TOKENS: 'ops:configured-admin-1' });
    expect(next.tokens.admin).toEqual([{ name: 'ops', token: 'configured-admin-1' }]);
    expect(next.tokens.kept).toEqual(['service']);
    expect(JSON.parse(readFileSync(file(), 'utf8'))).toEqual(kept); // the configured token is not written
  });

  it('adds a newly missing list to the file without changing the kept one', () => {
    const first = start({ ADMIN_TOKENS: 'ops:configured-admin-1' });
    expect(first.tokens.generated.map((g) => g.role)).toEqual(['service']);
    expect(Object.keys(JSON.parse(readFileSync(file(), 'utf8')) as object)).toEqual(['SERVICE_TOKENS']);
    const second = start();
    expect(second.tokens.generated.map((g) => g.role)).toEqual(['admin']);
    expect(second.tokens.service).toEqual(first.tokens.service);
    const third = start();
    expect(third.tokens.generated).toEqual([]);
    expect(third.tokens.admin).toEqual(second.tokens.admin);
  });

  it('reads an operator-edited file in the environment format', () => {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file(), JSON.stringify({ ADMIN_TOKENS: 'a:admin-token-1,b:admin-token-2' }));
    const tokens = start({ SERVICE_TOKENS: 'gw:service-token-1' }).tokens;
    expect(tokens.admin.map((t) => t.name)).toEqual(['a', 'b']);
    expect(tokens.generated).toEqual([]);
  });

  it('neither reads nor writes the file when both lists are configured', () => {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file(), 'not json');
    const both = start({ ADMIN_TOKENS: 'ops:admin-token-1', SERVICE_TOKENS: 'gw:service-token-1' });
    expect(both.file).toBeNull();
    expect(both.tokens.generated).toEqual([]);
    expect(readFileSync(file(), 'utf8')).toBe('not json');
  });

  it('refuses to start in production without both lists, whatever the file holds', () => {
    start();
    expect(() => start({ NODE_ENV: 'production' })).toThrow(/production requires both/);
  });

  describe('a file that cannot be used', () => {
    const corrupt: [string, string][] = [
      ['not JSON', '{"ADMIN_TOKENS": "generated-admin:qg_'],
      ['a token too short', JSON.stringify({ ADMIN_TOKENS: 'a:short' })],
      ['an unknown member', JSON.stringify({ ADMIN_TOKEN: 'a:admin-token-1' })],
      ['a list of the wrong type', JSON.stringify({ SERVICE_TOKENS: 42 })],
    ];
    it.each(corrupt)('stops the start naming the file (%s), and leaves it as it was', (_case, content) => {
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(file(), content);
      expect(() => start()).toThrow(TokenFileError);
      expect(() => start()).toThrow(file());
      expect(readFileSync(file(), 'utf8')).toBe(content);
    });

    it('stops the start when the file cannot be read', () => {
      mkdirSync(file(), { recursive: true }); // a directory where the file should be
      expect(() => start()).toThrow(new RegExp(`token file ${file()} cannot be used`));
    });

    it('never puts a token in the message', () => {
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(file(), JSON.stringify({ ADMIN_TOKENS: 'a:admin-token-1', SERVICE_TOKENS: 'b:short' }));
      const message = (() => {
        try {
          start();
          return '';
        } catch (err) {
          return (err as Error).message;
        }
      })();
      expect(message).toMatch(/SERVICE_TOKENS/);
      expect(message).not.toContain('admin-token-1');
      expect(message).not.toMatch(/\bshort\b/); // the too-short token itself
    });
  });
});
