// cluster-key-slot ships no types; ioredis computes slots with it.
declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot of a key (CRC16 of its hash tag), 0–16383. */
  export default function calculateSlot(key: string | Buffer): number;
}
