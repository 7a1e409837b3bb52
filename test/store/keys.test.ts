import { describe, expect, it } from 'vitest';
import { assertPrefix, redisKey, type KeyOf } from '../../src/store/redis/keys.js';
import { ScriptCalls } from '../../src/store/redis/script-calls.js';
import { bucket, T0 } from './fixtures.js';

const tagOf = (key: string) => /\{([^}]*)\}/.exec(key)?.[1];

describe('Redis keys', () => {
  const subject = 'u{1}:|#';
  const requests = bucket.requestsLog('user:u{1}|*|requests|1m', 10);
  const subjectKeys: KeyOf[] = [
    { kind: 'warm', subject },
    { kind: 'record', subject, requestId: 'r}{:|' },
    { kind: 'applied', subject, requestId: 'r}{:|' },
    { kind: 'usage', subject, bucket: requests },
    { kind: 'active', subject, bucket: requests },
    { kind: 'holds', subject, bucketId: requests.id },
    { kind: 'expiries', subject, bucketId: requests.id },
    { kind: 'slots', subject, bucketId: requests.id },
  ];

  it('puts every key of one subject under one hash tag, whatever the ids contain', () => {
    const keys = subjectKeys.map((k) => redisKey('qg', k));
    expect(new Set(keys.map(tagOf))).toEqual(new Set([Buffer.from(subject).toString('base64url')]));
    for (const key of keys) expect(key.match(/[{}]/g)).toEqual(['{', '}']);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('starts every key with the prefix', () => {
    for (const k of subjectKeys) expect(redisKey('qg:test', k).startsWith('qg:test:{')).toBe(true);
  });

  it('tags a request id pointer by the request id, apart from subject tags', () => {
    expect(redisKey('qg', { kind: 'pointer', requestId: 'r1' })).toBe('qg:{r.cjE}:ptr');
    expect(redisKey('qg', { kind: 'warm', subject: 'r1' })).toBe('qg:{cjE}:warm');
  });

  it('keeps ids that a naive layout would merge apart', () => {
    const a = redisKey('qg', { kind: 'usage', subject: 'a:b', bucket: bucket.requestsLog('c', 1) });
    const b = redisKey('qg', { kind: 'usage', subject: 'a', bucket: bucket.requestsLog('b:c', 1) });
    const c = redisKey('qg', { kind: 'record', subject: 'a', requestId: 'x:y' });
    const d = redisKey('qg', { kind: 'record', subject: 'a:x', requestId: 'y' });
    expect(a).not.toBe(b);
    expect(c).not.toBe(d);
  });

  it('names usage storage by the counting signature, holds by the bucket alone', () => {
    const hour = bucket.requestsLog('b', 1, 3_600_000);
    const marked = { ...hour, counting: { ...hour.counting, floor: T0 } };
    const usage = (b: typeof hour) => redisKey('qg', { kind: 'usage', subject: 'u', bucket: b });
    expect(usage(hour)).toBe('qg:{dQ}:u:Yg:l.3600000.0');
    expect(usage(marked)).not.toBe(usage(hour));
    expect(redisKey('qg', { kind: 'holds', subject: 'u', bucketId: 'b' })).toBe('qg:{dQ}:h:Yg');
  });

  it('names the keys of a script call as redisKey does, in layout.lua order', () => {
    const cost = bucket.costSlices('user:u|*|cost|5h', 100);
    const sessions = bucket.sessionsLog('user:u|*|sessions|1h', 3);
    const slots = bucket.concurrency('user:u|*|concurrency|-', 2);
    const call = new ScriptCalls('qg').decide({
      subject,
      buckets: [cost, requests, sessions, slots],
      now: T0,
      estimate: 0,
      sessionId: null,
      sessionTtlMs: 0,
      reserve: null,
    });
    const key = (k: KeyOf) => redisKey('qg', k);
    expect(call.keys).toEqual([
      key({ kind: 'warm', subject }),
      key({ kind: 'record', subject, requestId: '' }),
      key({ kind: 'applied', subject, requestId: '' }),
      key({ kind: 'usage', subject, bucket: cost }),
      key({ kind: 'holds', subject, bucketId: cost.id }),
      key({ kind: 'expiries', subject, bucketId: cost.id }),
      key({ kind: 'usage', subject, bucket: requests }),
      key({ kind: 'usage', subject, bucket: sessions }),
      key({ kind: 'active', subject, bucket: sessions }),
      key({ kind: 'slots', subject, bucketId: slots.id }),
    ]);
  });

  it('refuses prefixes that are empty or open a hash tag', () => {
    for (const prefix of ['', 'a{b', 'a}b']) expect(() => assertPrefix(prefix)).toThrow(TypeError);
    expect(() => assertPrefix('quotagate')).not.toThrow();
  });
});
