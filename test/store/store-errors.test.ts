import { ReplyError } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { StoreHealth } from '../../src/recovery/store-health.js';
import { ScriptReplyError } from '../../src/store/redis/replies.js';
import { replyKind, toStoreError } from '../../src/store/redis/unavailable.js';
import { StoreMisconfiguredError, StoreUnavailableError } from '../../src/store/store-errors.js';

const reply = (message: string): Error => new (ReplyError as new (message: string) => Error)(message);

describe('classifying Redis failures', () => {
  it.each([
    'LOADING Redis is loading the dataset in memory',
    'BUSY Redis is busy running a script',
    'MASTERDOWN Link with MASTER is down',
    'TRYAGAIN Multiple keys request during rehashing of slot',
    'CLUSTERDOWN Hash slot not served',
    'READONLY You cannot write against a read only replica.',
  ])('treats the transient reply %j as unavailable (FAIL_MODE decides)', (message) => {
    expect(toStoreError(reply(message))).toBeInstanceOf(StoreUnavailableError);
  });

  it.each([
    ['MOVED 12182 127.0.0.1:30003', 'MOVED'],
    ['ASK 12182 127.0.0.1:30003', 'ASK'],
    ['WRONGTYPE Operation against a key holding the wrong kind of value', 'WRONGTYPE'],
    ["CROSSSLOT Keys in request don't hash to the same slot", 'CROSSSLOT'],
    ['NOSCRIPT No matching script. Please use EVAL.', 'NOSCRIPT'],
    ["NOPERM User qg has no permissions to run the 'evalsha' command", 'NOPERM'],
    ["ERR unknown command 'EVALSHA', with args beginning with: ", 'ERR unknown command'],
    [
      "ERR user_script:12: Script attempted to access nonexistent global variable 'x' script: 1f0e, on @user_script:12.",
      'ERR script',
    ],
    ['ERR Error running script (call to f_1f0e): @user_script:3: bad argument', 'ERR script'],
  ])('treats %j as a misconfiguration of kind %s, never as a fault to fail open on', (message, kind) => {
    const mapped = toStoreError(reply(message));
    expect(mapped).toBeInstanceOf(StoreMisconfiguredError);
    expect((mapped as StoreMisconfiguredError).reply).toBe(kind);
    expect(replyKind(message)).toBe(kind);
  });

  it.each(['MOVED 12182 127.0.0.1:30003', 'ASK 12182 127.0.0.1:30003'])(
    'treats %j from a cluster client as a slot moving (a failover), so unavailable',
    (message) => {
      expect(toStoreError(reply(message), true)).toBeInstanceOf(StoreUnavailableError);
      expect(toStoreError(reply('CROSSSLOT Keys in request'), true)).toBeInstanceOf(StoreMisconfiguredError);
    },
  );

  it('treats a lost connection and a timeout as unavailable, with their reason', () => {
    expect(toStoreError(new Error('Connection is closed.'))).toMatchObject({ reason: 'unavailable' });
    expect(toStoreError(new Error('Command timed out'))).toMatchObject({ reason: 'timeout' });
  });

  it('lets bugs surface as they are', () => {
    const bug = new ScriptReplyError('counter store: decide reply is not an array');
    expect(toStoreError(bug)).toBe(bug);
    const typeError = new TypeError('bad bucket');
    expect(toStoreError(typeError)).toBe(typeError);
  });
});

describe('store health after a misconfiguration', () => {
  const misconfigured = (kind: string) =>
    new StoreMisconfiguredError(`counter store misconfigured: ${kind}`, { reply: kind });

  function logged() {
    const lines: { reply?: string }[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    return { logger, lines };
  }

  it('reports it for a minute after it was last seen', () => {
    let elapsed = 0;
    const health = new StoreHealth(() => elapsed);
    const { logger } = logged();
    expect(health.misconfiguration).toBeNull();
    health.recordMisconfigured(misconfigured('MOVED'), logger);
    elapsed = 59_999;
    expect(health.misconfiguration?.reply).toBe('MOVED');
    elapsed = 60_000;
    expect(health.misconfiguration).toBeNull();
  });

  it('logs once a minute per kind of reply', () => {
    let elapsed = 0;
    const health = new StoreHealth(() => elapsed);
    const { logger, lines } = logged();
    for (let i = 0; i < 5; i++) health.recordMisconfigured(misconfigured('MOVED'), logger);
    health.recordMisconfigured(misconfigured('WRONGTYPE'), logger);
    expect(lines.map((l) => l.reply)).toEqual(['MOVED', 'WRONGTYPE']);
    elapsed = 60_000;
    health.recordMisconfigured(misconfigured('MOVED'), logger);
    expect(lines.map((l) => l.reply)).toEqual(['MOVED', 'WRONGTYPE', 'MOVED']);
  });
});
