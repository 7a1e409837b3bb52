import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, envSchema, loadConfig, parseTokenList } from '../src/config.js';

function envExample(): Map<string, string> {
  const text = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
  const entries = text
    .split('\n')
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => {
      const eq = line.indexOf('=');
      return [line.slice(0, eq), line.slice(eq + 1)] as const;
    });
  return new Map(entries);
}

describe('config schema', () => {
  it('gives every SPEC §6 setting its documented default', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 8080,
      DATA_DIR: './.quotagate',
      FAIL_MODE: 'open',
      STORE_TIMEOUT_MS: 250,
      RESERVATION_TTL_SECONDS: 600,
      SESSION_TTL_SECONDS: 3600,
      DEFAULT_TIMEZONE: 'UTC',
      CONFIG_POLL_SECONDS: 5,
      AUTO_MIGRATE: true,
      LOG_LEVEL: 'info',
      QUOTA_TEST_CLOCK: false,
    });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.REDIS_URL).toBeUndefined();
  });

  it('describes every variable', () => {
    for (const [name, schema] of Object.entries(envSchema.shape)) {
      expect(schema.description, name).toBeTruthy();
    }
  });

  it('fails fast naming each bad variable', () => {
    const attempt = () =>
      loadConfig({ PORT: 'eighty', FAIL_MODE: 'sometimes', DEFAULT_TIMEZONE: 'Mars/Olympus' });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/PORT/);
    expect(attempt).toThrow(/FAIL_MODE/);
    expect(attempt).toThrow(/DEFAULT_TIMEZONE/);
  });

  it('treats an empty URL as unset and refuses a malformed one', () => {
    expect(loadConfig({ DATABASE_URL: '' }).DATABASE_URL).toBeUndefined();
    expect(() => loadConfig({ REDIS_URL: 'not a url' })).toThrow(/REDIS_URL/);
  });

  it('parses booleans strictly', () => {
    expect(loadConfig({ AUTO_MIGRATE: 'false' }).AUTO_MIGRATE).toBe(false);
    expect(loadConfig({ QUOTA_TEST_CLOCK: '1' }).QUOTA_TEST_CLOCK).toBe(true);
    expect(() => loadConfig({ AUTO_MIGRATE: 'maybe' })).toThrow(/AUTO_MIGRATE/);
  });
});

describe('token lists', () => {
  it('reads bare tokens and name:token pairs', () => {
    expect(parseTokenList('ops:aaaaaaaa1, bbbbbbbb2')).toEqual([
      { name: 'ops', token: 'aaaaaaaa1' },
      { name: 'token#2', token: 'bbbbbbbb2' },
    ]);
  });

  it('refuses short tokens naming the variable', () => {
    expect(() => loadConfig({ ADMIN_TOKENS: 'ops:short' })).toThrow(/ADMIN_TOKENS.*shorter than 8/);
  });
});

describe('.env.example', () => {
  const example = envExample();

  it('lists exactly the settings of the schema', () => {
    expect([...example.keys()].sort()).toEqual(Object.keys(envSchema.shape).sort());
  });

  it('shows each default the schema applies', () => {
    const fromExample = loadConfig(Object.fromEntries(example));
    expect(fromExample).toEqual(loadConfig({}));
  });
});
