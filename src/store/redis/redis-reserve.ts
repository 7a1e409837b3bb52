import type { ChainableCommander } from 'ioredis';
import { isCluster, type RedisClient } from './client.js';
import {
  newSessionIndexes,
  type BucketState,
  type DecideInput,
  type DecideOutcome,
  type Reservation,
} from '../counter-store.js';
import { parseDecide, parseRecordHash, ScriptReplyError } from './replies.js';
import { recordTtlMs, type ScriptCalls } from './script-calls.js';
import { scriptArgs, type ScriptCall } from './scripts.js';
import { pipelineResults, roundTrip } from './unavailable.js';

type Reserve = NonNullable<DecideInput['reserve']>;
type Decided = Extract<DecideOutcome, { kind: 'decided' }>;

/** Claims of a contended pointer before giving up (each loses only to a concurrent reserve). */
const MAX_CLAIMS = 3;

/**
 * One pipeline on one server. In a cluster the pointer's slot is another master's, and a
 * pipeline must stay in one slot: two concurrent round trips, each atomic in its slot —
 * the same guarantees, since the pipeline was never a transaction either.
 */
async function decideAndPoint(
  redis: RedisClient,
  decide: ScriptCall,
  pointer: string,
  subject: string,
  ttl: number,
): Promise<[unknown, unknown]> {
  const point = (p: ChainableCommander) =>
    p.set(pointer, subject, 'PX', ttl, 'NX').pexpire(pointer, ttl, 'GT').get(pointer);
  if (!isCluster(redis)) {
    const exec = await roundTrip(redis, () => point(redis.pipeline().qgDecide(...scriptArgs(decide))).exec());
    const [reply, , , owner] = pipelineResults(redis, exec);
    return [reply, owner];
  }
  const [reply, exec] = await Promise.all([
    roundTrip(redis, () => redis.qgDecide(...scriptArgs(decide))),
    roundTrip(redis, () => point(redis.pipeline()).exec()),
  ]);
  return [reply, pipelineResults(redis, exec)[2]];
}

/**
 * A /reserve: decide.lua plus the request id's pointer (tagged by the request id, so in its
 * own slot): SET NX, extend (GT), GET — one pipeline on one server, two concurrent calls (one
 * per slot) on a cluster (decideAndPoint). The pointer lets `reservation()` find
 * the record from the request id alone; a refused reserve may leave one behind, harmlessly.
 *
 * Rare path: the pointer names another subject. If that subject holds a reservation for the
 * request id, this decision is undone (undo.lua) and that reservation returned as `existing`.
 * If it holds none (its reserve was refused), the pointer is taken over by compare-and-set.
 */
export async function reserveWithPointer(
  redis: RedisClient,
  calls: ScriptCalls,
  input: DecideInput,
): Promise<DecideOutcome> {
  const reserve = input.reserve as Reserve;
  const pointer = calls.pointer(reserve.requestId);
  const ttl = recordTtlMs(reserve.holdTtlMs);
  const [reply, owner] = await decideAndPoint(redis, calls.decide(input), pointer, input.subject, ttl);
  const outcome = parseDecide(reply, input.buckets, input.now);
  if (outcome.kind === 'existing') {
    return {
      kind: 'existing',
      reservation: { ...outcome.record, requestId: reserve.requestId, subject: input.subject },
    };
  }
  if (outcome.kind === 'cold') return outcome;
  const decided = outcome.admitted
    ? { ...outcome, reservation: heldReservation(input, reserve, outcome.states) }
    : outcome;
  if (owner === input.subject) return decided;
  if (owner !== null && typeof owner !== 'string')
    throw new ScriptReplyError('counter store: pointer is not a string');
  return resolveConflict(redis, calls, input, decided, owner);
}

async function resolveConflict(
  redis: RedisClient,
  calls: ScriptCalls,
  input: DecideInput,
  decided: Decided,
  owner: string | null,
): Promise<DecideOutcome> {
  const { requestId } = input.reserve as Reserve;
  for (let claims = 0; claims < MAX_CLAIMS; claims++) {
    const other = owner === null ? null : await readReservation(redis, calls, owner, requestId);
    if (other) {
      if (decided.admitted) await undo(redis, calls, input, decided);
      return { kind: 'existing', reservation: other };
    }
    if (!decided.admitted) return decided;
    const call = calls.claim(
      requestId,
      owner ?? '',
      input.subject,
      recordTtlMs((input.reserve as Reserve).holdTtlMs),
    );
    const claimed = await roundTrip(redis, () => redis.qgClaim(...scriptArgs(call)));
    if (claimed === input.subject) return decided;
    owner = typeof claimed === 'string' ? claimed : null;
  }
  await undo(redis, calls, input, decided);
  throw new Error(`counter store: request id ${requestId} is contended by several subjects`);
}

async function undo(
  redis: RedisClient,
  calls: ScriptCalls,
  input: DecideInput,
  decided: Decided,
): Promise<void> {
  const admitted = new Set(newSessionIndexes(input, decided.states));
  const newAdmissions = input.buckets.map((_, i) => admitted.has(i));
  const call = calls.undo(input, (input.reserve as Reserve).requestId, newAdmissions);
  await roundTrip(redis, () => redis.qgUndo(...scriptArgs(call)));
}

export async function readReservation(
  redis: RedisClient,
  calls: ScriptCalls,
  subject: string,
  requestId: string,
): Promise<Reservation | null> {
  const hash = await roundTrip(redis, () => redis.hgetall(calls.record(subject, requestId)));
  const record = parseRecordHash(hash);
  return record && { ...record, requestId, subject };
}

function heldReservation(input: DecideInput, reserve: Reserve, states: BucketState[]): Reservation {
  return {
    newSessions: newSessionIndexes(input, states),
    requestId: reserve.requestId,
    subject: input.subject,
    state: 'held',
    bodyHash: reserve.bodyHash,
    expiresAt: input.now + reserve.holdTtlMs,
    payload: reserve.payload,
  };
}
