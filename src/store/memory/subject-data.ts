import type { Reservation, SeedWatermark } from '../counter-store.js';

/** In-process mirror of one subject's Redis keys (src/store/redis/keys.ts), as plain Maps. */
export type Usage =
  /** Event times, ascending. */
  (
    | { mode: 'log'; events: number[] }
    /** Slice start → amount. */
    | { mode: 'slices'; slices: Map<number, number> }
    /** One counter for the window starting at `start`. */
    | { mode: 'window' | 'first_use'; start: number; used: number }
  ) & {
    /** When none of it can count any more, like a Redis TTL (null: a `total` counter, kept for good). */
    dropAt: number | null;
  };

export interface Hold {
  amount: number;
  expiresAt: number;
}

export interface StoredReservation {
  record: Omit<Reservation, 'requestId' | 'subject'>;
  dropAt: number;
}

/** A settle of the request was applied ('*' in Redis). */
export interface AppliedMarker {
  dropAt: number;
}

export interface SubjectData {
  /** Warm field → the watermark of the seed that wrote it (null: none), like the Redis hash's values. */
  warm: Map<string, SeedWatermark | null>;
  /** The token of the last markCold ('' before any): a seed must carry it (seed.lua). */
  generation: string;
  warmUntil: number;
  /** By warm field (bucket id + counting signature), like the Redis usage keys. */
  usage: Map<string, Usage>;
  active: Map<string, Map<string, number>>;
  /** By bucket id: holds and slots survive a changed window definition. */
  holds: Map<string, Map<string, Hold>>;
  slots: Map<string, Map<string, number>>;
  records: Map<string, StoredReservation>;
  applied: Map<string, AppliedMarker>;
  /** Threshold crossings not yet acknowledged (settle.lua's alerts list). */
  alerts: string[];
}

export function emptySubject(): SubjectData {
  return {
    warm: new Map(),
    generation: '',
    warmUntil: 0,
    usage: new Map(),
    active: new Map(),
    holds: new Map(),
    slots: new Map(),
    records: new Map(),
    applied: new Map(),
    alerts: [],
  };
}

/** The map under `key`, created on first write. */
export function mapIn<K, V>(maps: Map<string, Map<K, V>>, key: string): Map<K, V> {
  let map = maps.get(key);
  if (!map) maps.set(key, (map = new Map()));
  return map;
}

export function isEmpty(data: SubjectData): boolean {
  return (
    data.warm.size === 0 &&
    data.usage.size === 0 &&
    data.active.size === 0 &&
    data.holds.size === 0 &&
    data.slots.size === 0 &&
    data.records.size === 0 &&
    data.applied.size === 0 &&
    data.alerts.length === 0
  );
}
