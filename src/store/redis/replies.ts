import { parseAlerts } from '../alert-entries.js';
import { countingWindow } from '../../domain/counting.js';
import type {
  ApplyOutcome,
  BucketState,
  ColdOutcome,
  DecideOutcome,
  ExtendOutcome,
  Reservation,
  StoreBucket,
} from '../counter-store.js';

/**
 * Script replies, checked before use: a reply of another shape (another script version, a
 * bug) throws instead of turning into a wrong quota answer.
 */
export class ScriptReplyError extends Error {
  override name = 'ScriptReplyError';
}

type Decided = Extract<DecideOutcome, { kind: 'decided' }>;

/** `decide.lua`'s reply; a reservation is filled in by the caller. */
export function parseDecide(
  reply: unknown,
  buckets: readonly StoreBucket[],
  now: number,
): Decided | ColdOutcome | { kind: 'existing'; record: Omit<Reservation, 'requestId' | 'subject'> } {
  const [tag, ...rest] = array(reply, 'decide reply');
  switch (tag) {
    case 'existing':
      return { kind: 'existing', record: recordFields(rest) };
    case 'cold':
      return parseCold(rest, buckets);
    case 'decided': {
      const [admitted, ...states] = rest;
      if (states.length !== buckets.length)
        fail(`decide reply has ${states.length} states for ${buckets.length} buckets`);
      return {
        kind: 'decided',
        admitted: integer(admitted, 'admitted') === 1,
        states: buckets.map((bucket, i) => parseState(states[i], bucket, now)),
        reservation: null,
      };
    }
    default:
      return fail(`unknown decide reply ${String(tag)}`);
  }
}

export function parseApply(reply: unknown, buckets: readonly StoreBucket[]): ApplyOutcome {
  const [tag, ...rest] = array(reply, 'apply reply');
  if (tag === 'applied') return rest.length === 0 ? { kind: tag } : { kind: tag, alerts: parseAlerts(rest) };
  if (tag === 'already_applied') return { kind: tag };
  if (tag === 'cold') return parseCold(rest, buckets);
  return fail(`unknown apply reply ${String(tag)}`);
}

export function parseExtend(reply: unknown): ExtendOutcome {
  const [tag, state] = array(reply, 'extend reply');
  if (tag === 'extended' || tag === 'unknown') return { kind: tag };
  if (tag === 'closed' && (state === 'settled' || state === 'released' || state === 'expired'))
    return { kind: 'closed', state };
  return fail(`unknown extend reply ${String(tag)} ${String(state)}`);
}

/** A reservation record (HGETALL or the 'existing' reply) → its fields; null when absent. */
export function parseRecordHash(
  hash: Record<string, string>,
): Omit<Reservation, 'requestId' | 'subject'> | null {
  if (Object.keys(hash).length === 0) return null;
  return recordFields([hash.state, hash.bodyHash, hash.expiresAt, hash.payload, hash.sessions]);
}

function recordFields([state, bodyHash, expiresAt, payload, sessions]: unknown[]): Omit<
  Reservation,
  'requestId' | 'subject'
> {
  if (state !== 'held' && state !== 'settled' && state !== 'released')
    fail(`unknown reservation state ${String(state)}`);
  return {
    state,
    bodyHash: text(bodyHash, 'bodyHash'),
    expiresAt: integer(expiresAt, 'expiresAt'),
    payload: text(payload, 'payload'),
    newSessions: sessionIndexes(sessions),
  };
}

/** The record's `sessions` field ('1,3', 1-based; absent or '' = none) → 0-based indexes. */
function sessionIndexes(field: unknown): number[] {
  if (field === undefined || field === null || field === '') return [];
  return text(field, 'sessions')
    .split(',')
    .map((i) => integer(i, 'session index') - 1);
}

function parseCold([generation, fresh, ...indexes]: unknown[], buckets: readonly StoreBucket[]): ColdOutcome {
  const ids = indexes.map(
    (i) => buckets[integer(i, 'cold index') - 1]?.id ?? fail(`cold index ${String(i)} out of range`),
  );
  const isFresh = integer(fresh, 'fresh');
  if (isFresh !== 0 && isFresh !== 1) fail(`cold reply fresh ${String(fresh)} is not 0 or 1`);
  return { kind: 'cold', buckets: ids, generation: text(generation, 'generation'), fresh: isFresh === 1 };
}

function parseState(reply: unknown, bucket: StoreBucket, now: number): BucketState {
  const [used, held, firstUseStart, reconnect, timeline, admits] = array(reply, `state of ${bucket.id}`);
  const flat = array(timeline, 'timeline');
  const entries: BucketState['timeline'] = [];
  for (let j = 0; j + 1 < flat.length; j += 2) {
    entries.push({ at: integer(flat[j], 'timeline at'), amount: integer(flat[j + 1], 'timeline amount') });
  }
  const start = firstUseStart === '' ? null : integer(firstUseStart, 'first-use start');
  return {
    id: bucket.id,
    used: integer(used, 'used'),
    held: integer(held, 'held'),
    ...countingWindow(bucket.counting, now, start),
    reconnect: integer(reconnect, 'reconnect') === 1,
    timeline: entries,
    admits: integer(admits, 'admits') === 1,
  };
}

function array(value: unknown, what: string): unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : fail(`${what} is not an array`);
}

function integer(value: unknown, what: string): number {
  const n = typeof value === 'string' && value !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n)
    ? n
    : fail(`${what} is not an integer: ${String(value)}`);
}

function text(value: unknown, what: string): string {
  return typeof value === 'string' ? value : fail(`${what} is not a string`);
}

function fail(message: string): never {
  throw new ScriptReplyError(`counter store: ${message}`);
}
