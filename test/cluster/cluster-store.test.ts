import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPEN_HOLD_SHARDS, redisOpenHolds } from '../../src/ops/open-holds.js';
import { connectRedisCluster } from '../../src/store/redis/connect.js';
import { redisKey } from '../../src/store/redis/keys.js';
import { RedisCounterStore } from '../../src/store/redis/redis-store.js';
import { counterStoreConformance } from '../store/conformance.js';
import { bucket, driver, freshSubject, T0 } from '../store/fixtures.js';
import { until } from '../support/until.js';
import {
  clusterToolsAvailable,
  startPrivateCluster,
  type PrivateCluster,
} from '../support/private-cluster.js';

const prefix = 'qgc';
const enabled = clusterToolsAvailable();
if (!enabled) console.warn('redis-server/redis-cli missing: Redis Cluster store tests SKIPPED');

let cluster: PrivateCluster | null = null;
const clients: Cluster[] = [];

async function client(): Promise<Cluster> {
  const redis = connectRedisCluster(cluster?.seeds ?? '', 2_000);
  await redis.connect();
  clients.push(redis);
  return redis;
}

/** Every key of every master, so tests can check where the store wrote. */
async function allKeys(redis: Cluster): Promise<string[]> {
  const keys: string[] = [];
  for (const node of redis.nodes('master')) keys.push(...(await node.keys(`${prefix}:*`)));
  return keys;
}

(enabled ? describe : describe.skip)('Redis counter store on a 3 + 3 Redis Cluster', () => {
  beforeAll(async () => {
    cluster = await startPrivateCluster({ masters: 3, replicasPerMaster: 1 });
  }, 120_000);
  afterAll(async () => {
    for (const redis of clients) redis.disconnect();
    await cluster?.stop();
  });

  counterStoreConformance(
    'Redis Cluster',
    async () => new RedisCounterStore(await client(), { prefix, replicaAckMs: 500 }),
  );

  describe('keys', () => {
    let redis: Cluster;
    let store: RedisCounterStore;
    beforeAll(async () => {
      redis = await client();
      store = new RedisCounterStore(redis, { prefix, replicaAckMs: 500 });
    });
    const d = driver(() => store);

    it('spreads subjects over every master and writes no key without a hash tag', async () => {
      const holds = redisOpenHolds(redis, prefix);
      const cost = [bucket.costSlices('cost', 1_000_000)];
      for (let i = 0; i < 30; i++) {
        const u = freshSubject(`spread${i}`);
        await d.warm(u, cost);
        await d.reserve(u, cost, T0, 'r1', { estimate: 10 });
        holds.opened(`${u}/r1`, T0 + 60_000);
        await d.settle(u, cost, T0 + 1, 'r1', 5);
      }
      expect(await holds.count(T0)).toBe(30);
      const keys = await allKeys(redis);
      expect(keys.filter((k) => !/^qgc:\{[^{}]+\}:/.test(k))).toEqual([]);
      const holdKeys = new Set(keys.filter((k) => k.endsWith(':open-holds')));
      expect(holdKeys.size).toBeGreaterThan(1);
      expect(holdKeys.size).toBeLessThanOrEqual(OPEN_HOLD_SHARDS);
      for (const node of redis.nodes('master')) expect(await node.dbsize()).toBeGreaterThan(0);
    });

    it('says when no replica acknowledged a settle: the write a failover then loses', async () => {
      const { u, cost, settle } = await settlingSubject(store, 'wait');
      expect(await settle('acked')).toEqual({ kind: 'applied' });
      const { masterPort, replicaPid } = await slotNodes(redis, u);
      // Stopped, and cut from its master, the replica cannot receive the next write at all
      // (a stopped replica alone would still read it later from its socket buffer).
      process.kill(replicaPid, 'SIGSTOP');
      try {
        const master = redis.nodes('master').find((n) => n.options.port === masterPort);
        await master?.call('CLIENT', 'KILL', 'TYPE', 'replica');
        expect(await settle('unacked')).toMatchObject({ kind: 'applied', unreplicated: true });
        await cluster?.stopNode(masterPort, 'SIGKILL');
      } finally {
        process.kill(replicaPid, 'SIGCONT');
      }
      const killed = Date.now();
      const used = await untilAnswered(async () => (await d.states(u, cost, T0)).get('cost')?.used);
      console.log(`Redis Cluster failover: ${Date.now() - killed} ms from SIGKILL to the first answer`);
      // The promoted replica never had the unacknowledged settle: this is why it was marked dirty.
      expect(used).toBe(5);
    }, 60_000);
  });
});

// Found reading a chaos run (seed 1226543200): a settle one replica of two acknowledged was
// lost when the other, which never had it, was promoted.
(enabled ? describe : describe.skip)('Redis counter store on a Cluster with 2 replicas per master', () => {
  let wide: PrivateCluster | null = null;
  let redis: Cluster;
  beforeAll(async () => {
    wide = await startPrivateCluster({ masters: 3, replicasPerMaster: 2 });
    redis = connectRedisCluster(wide.seeds, 2_000);
    await redis.connect();
  }, 120_000);
  afterAll(async () => {
    redis?.disconnect();
    await wide?.stop();
  });

  it('reports a settle unreplicated until every replica of its master acknowledged it', async () => {
    const store = new RedisCounterStore(redis, { prefix, replicaAckMs: 300 });
    const { u, settle } = await settlingSubject(store, 'wait2');
    expect(await settle('both')).toEqual({ kind: 'applied' });
    const [masterPort, stoppedPort, runningPort] = await slotPorts(redis, u);
    const stopped = wide?.nodes.find((n) => n.port === stoppedPort)?.process.pid;
    if (!masterPort || !runningPort || !stopped) throw new Error('no two replicas for the subject slot');
    process.kill(stopped, 'SIGSTOP');
    try {
      const master = redis.nodes('master').find((n) => n.options.port === masterPort);
      await master?.call('CLIENT', 'KILL', 'TYPE', 'replica');
      // The running replica reconnects at once; the stopped one cannot.
      await until(async () => /slave\d+:[^\n]*state=online/.test((await master?.info('replication')) ?? ''));
      expect(await settle('one-of-two')).toMatchObject({ kind: 'applied', unreplicated: true });
      expect(await store.replicated(u)).toBe(false);
    } finally {
      process.kill(stopped, 'SIGCONT');
    }
  }, 60_000);
});

/** A warm subject with one cost bucket, and a settle of $0.000005 to it by request id. */
async function settlingSubject(store: RedisCounterStore, label: string) {
  const u = freshSubject(label);
  const cost = [bucket.costSlices('cost', 1_000_000)];
  await driver(() => store).warm(u, cost);
  const settle = (requestId: string) =>
    store.settle({ subject: u, requestId, buckets: cost, now: T0, cost: 5, countRequest: true });
  return { u, cost, settle };
}

/** The ports of the master and the replicas of the slot that holds the subject. */
async function slotPorts(redis: Cluster, subject: string): Promise<number[]> {
  const slot = Number(await redis.cluster('KEYSLOT', redisKey(prefix, { kind: 'warm', subject })));
  const ranges = (await redis.cluster('SLOTS')) as unknown as [number, number, ...[string, number][]][];
  const range = ranges.find(([from, to]) => slot >= from && slot <= to);
  return (range?.slice(2) as [string, number][] | undefined)?.map(([, port]) => port) ?? [];
}

/** The master port and the replica PID of the slot that holds the subject. */
async function slotNodes(
  redis: Cluster,
  subject: string,
): Promise<{ masterPort: number; replicaPid: number }> {
  const [masterPort, replicaPort] = await slotPorts(redis, subject);
  const pid = cluster?.nodes.find((n) => n.port === replicaPort)?.process.pid;
  if (masterPort === undefined || pid === undefined) throw new Error('no replica for the subject slot');
  return { masterPort, replicaPid: pid };
}

/** Retries a call that fails while the cluster fails over, until it answers. */
async function untilAnswered<T>(call: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
