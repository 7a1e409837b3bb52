import { Cluster, type Redis } from 'ioredis';

/** One Redis server, or a Redis Cluster (REDIS_CLUSTER=true): the store speaks to either. */
export type RedisClient = Redis | Cluster;

export const isCluster = (redis: RedisClient): redis is Cluster => redis instanceof Cluster;
