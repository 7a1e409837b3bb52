import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, inject } from 'vitest';

/** What the global setup found; null means that server is absent and its tests skip. */
export const services = inject('services');

export const describeWithPostgres = services.postgresUrl ? describe : describe.skip;
export const describeWithRedis = services.redisUrl ? describe : describe.skip;
export const describeWithServers = services.postgresUrl && services.redisUrl ? describe : describe.skip;

const uniqueName = (prefix: string) =>
  `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;

/** A fresh database for this test file, dropped afterwards; returns its URL once ready. */
export function useTestDatabase(): () => string {
  let url = '';
  const name = uniqueName('qg_test');
  beforeAll(async () => {
    if (!services.postgresUrl) return;
    const admin = new pg.Client({ connectionString: services.postgresUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const target = new URL(services.postgresUrl);
    target.pathname = `/${name}`;
    url = target.toString();
  });
  afterAll(async () => {
    if (!services.postgresUrl || !url) return;
    const admin = new pg.Client({ connectionString: services.postgresUrl });
    await admin.connect();
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  });
  return () => url;
}

/** A Redis key prefix private to this test file; its keys are deleted afterwards. */
export function useRedisPrefix(): string {
  const prefix = uniqueName('t');
  afterAll(async () => {
    if (!services.redisUrl) return;
    const redis = new Redis(services.redisUrl);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    redis.disconnect();
  });
  return prefix;
}
