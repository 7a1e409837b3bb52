import { countingSignature, warmFieldOf } from '../counting-signature.js';
import type { HeldAmounts } from '../../domain/types.js';
import {
  heldAmounts,
  type DecideInput,
  type ExtendInput,
  type SeedWatermark,
  type SettleInput,
  type StoreBucket,
  type SubjectSeed,
} from '../counter-store.js';
import { encodeId, encodeKnownId, encoderFor } from '../ids.js';
import { seedWrites } from '../seed-writes.js';
import {
  APPLIED_MARKER_TTL_MS,
  LOG_KEEP_MIN,
  RESERVATION_GRACE_MS,
  TTL_MARGIN_MS,
  WARM_TTL_MS,
} from '../store-constants.js';
import { redisKey, SubjectKeys } from './keys.js';
import type { ScriptCall } from './scripts.js';
import { seedBucketArgs } from './seed-args.js';

/** Builds the KEYS/ARGV of each script call, in the layouts their headers document. */
export class ScriptCalls {
  constructor(private readonly prefix: string) {}

  decide(input: DecideInput): ScriptCall {
    const reserve = input.reserve;
    const head = [
      reserve ? (reserve.holdEstimates === false ? '2' : '1') : '0',
      amountsArg(heldAmounts(input.estimate, input.tokenEstimate)),
      encodeId(input.sessionId ?? ''),
      String(input.sessionTtlMs),
      encodeId(reserve?.requestId ?? ''),
      String(reserve?.holdTtlMs ?? 0),
      reserve?.bodyHash ?? '',
      reserve?.payload ?? '',
      String(recordTtlMs(reserve?.holdTtlMs ?? 0)),
    ];
    return this.bucketCall(input.subject, reserve?.requestId ?? '', input.buckets, input.now, head);
  }

  settle(input: SettleInput): ScriptCall {
    const head = [
      encodeId(input.requestId),
      amountsArg(heldAmounts(input.cost, input.tokens)),
      input.countRequest ? '1' : '0',
      input.ledgerXid ?? '',
    ];
    const call = this.bucketCall(input.subject, input.requestId, input.buckets, input.now, head, true);
    call.keys.push(this.alerts(input.subject));
    return call;
  }

  alerts(subject: string): string {
    return redisKey(this.prefix, { kind: 'alerts', subject });
  }

  extend(input: ExtendInput): ScriptCall {
    const head = [
      encodeId(input.requestId),
      String(input.expiresAt),
      String(recordTtlMs(input.expiresAt - input.now)),
    ];
    return this.bucketCall(input.subject, input.requestId, input.buckets, input.now, head);
  }

  release(subject: string, requestId: string, buckets: StoreBucket[], now: number): ScriptCall {
    return this.bucketCall(subject, requestId, buckets, now, [encodeId(requestId)]);
  }

  /** `admitted[i]`: the decision recorded a new session admission in bucket i. */
  undo(input: DecideInput, requestId: string, admitted: boolean[]): ScriptCall {
    const flags = admitted.map((a) => (a ? '1' : '0')).join('');
    const head = [encodeId(requestId), encodeId(input.sessionId ?? ''), flags];
    return this.bucketCall(input.subject, requestId, input.buckets, input.now, head);
  }

  seed(seed: SubjectSeed): ScriptCall {
    const plans = seedWrites(seed);
    const encode = encoderFor(seed.subject);
    const key = (k: Parameters<typeof redisKey>[1]) => redisKey(this.prefix, k, encode);
    const keys = [key({ kind: 'warm', subject: seed.subject })];
    for (const { bucket } of plans) {
      keys.push(
        key({ kind: 'usage', subject: seed.subject, bucket }),
        key({ kind: 'active', subject: seed.subject, bucket }),
      );
    }
    const args = [
      ...settings(seed.now, plans.length),
      seed.generation,
      watermarkArg(seed.watermark),
      ...plans.flatMap((p) => seedBucketArgs(p, seed.now)),
    ];
    return { keys, args };
  }

  /** cold.lua reads no time: its head carries 0 for now. */
  cold(subject: string, generation: string): ScriptCall {
    return { keys: [this.warm(subject)], args: [...settings(0, 0), generation] };
  }

  claim(requestId: string, expected: string, subject: string, ttlMs: number): ScriptCall {
    return { keys: [this.pointer(requestId)], args: [expected, subject, String(ttlMs)] };
  }

  pointer(requestId: string): string {
    return redisKey(this.prefix, { kind: 'pointer', requestId });
  }

  record(subject: string, requestId: string): string {
    return redisKey(this.prefix, { kind: 'record', subject, requestId });
  }

  warm(subject: string): string {
    return redisKey(this.prefix, { kind: 'warm', subject });
  }

  private bucketCall(
    subject: string,
    requestId: string,
    buckets: StoreBucket[],
    now: number,
    head: string[],
    withAlerts = false,
  ): ScriptCall {
    const subjectKeys = new SubjectKeys(this.prefix, encodeKnownId(subject));
    // A request id is named once per call and never again: not worth a memo entry.
    const request = encodeId(requestId);
    const keys = [subjectKeys.warm(), subjectKeys.record(request), subjectKeys.applied(request)];
    const args = settings(now, buckets.length).concat(head);
    for (const bucket of buckets) {
      const id = encodeKnownId(bucket.id);
      const signature = countingSignature(bucket.counting);
      pushBucketKeys(keys, subjectKeys, bucket.metric, id, signature);
      const arg = bucketArg(bucket, warmFieldOf(id, signature));
      args.push(withAlerts ? `${arg} ${alertArg(bucket)}` : arg);
    }
    return { keys, args };
  }
}

/** Only the keys each metric uses, in layout.lua's order: fewer arguments to write. */
function pushBucketKeys(
  keys: string[],
  subjectKeys: SubjectKeys,
  metric: StoreBucket['metric'],
  id: string,
  signature: string,
): void {
  switch (metric) {
    case 'cost':
    case 'input_tokens':
    case 'output_tokens':
    case 'tokens':
      keys.push(subjectKeys.usage(id, signature), subjectKeys.holds(id), subjectKeys.expiries(id));
      break;
    case 'requests':
      keys.push(subjectKeys.usage(id, signature));
      break;
    case 'sessions':
      keys.push(subjectKeys.usage(id, signature), subjectKeys.active(id, signature));
      break;
    case 'concurrency':
      keys.push(subjectKeys.slots(id));
      break;
  }
}

/** seed.lua's watermark: 'snapshot excluded-request' (base64url, '-' for none), or '' for none. */
function watermarkArg(watermark: SeedWatermark | null): string {
  if (!watermark) return '';
  const excluded = watermark.excludedRequestId;
  return `${watermark.snapshot} ${excluded === null ? '-' : encodeId(excluded)}`;
}

/** A reservation record (and its pointer) outlives the hold, for late settles. */
export const recordTtlMs = (holdTtlMs: number) => holdTtlMs + RESERVATION_GRACE_MS;

function settings(now: number, bucketCount: number): string[] {
  return [now, bucketCount, TTL_MARGIN_MS, WARM_TTL_MS, LOG_KEEP_MIN, APPLIED_MARKER_TTL_MS].map(String);
}

/** layout.lua's alert fields of a settle: thresholds (comma-separated) and the context, or '- -'. */
const alertArg = (bucket: StoreBucket) =>
  bucket.alerts && bucket.alerts.thresholds.length > 0
    ? `${bucket.alerts.thresholds.join(',')} ${bucket.alerts.context}`
    : '- -';

/** layout.lua's parse_amounts: 'cost input output'. */
const amountsArg = (a: HeldAmounts) => `${a.costMicros} ${a.inputTokens} ${a.outputTokens}`;

/** One argument per bucket (layout.lua): no field can hold a space (ids are base64url). */
function bucketArg(bucket: StoreBucket, warm: string): string {
  const c = bucket.counting;
  const lengthMs = 'lengthMs' in c ? c.lengthMs : 0;
  const floor = 'floor' in c ? c.floor : 0;
  const sliceMs = c.mode === 'slices' ? c.sliceMs : 0;
  const start = c.mode === 'window' ? c.start : 0;
  const end = c.mode === 'window' && c.end !== null ? String(c.end) : '-';
  const shadow = bucket.shadow === true ? '1' : '0';
  return `${bucket.metric} ${c.mode} ${bucket.limit} ${lengthMs} ${sliceMs} ${floor} ${start} ${end} ${warm} ${shadow}`;
}
