import type {
  Counting,
  DecideInput,
  ExtendInput,
  SettleInput,
  StoreBucket,
  SubjectSeed,
} from './counter-store.js';

/**
 * Guards the port's inputs: a malformed bucket is a caller bug, and counting it anyway
 * could double-count or mis-key usage. Throws TypeError (a 500, never a quota answer).
 */
export function assertBuckets(buckets: readonly StoreBucket[]): void {
  const seen = new Set<string>();
  for (const bucket of buckets) {
    if (bucket.id === '') fail('a bucket id is empty');
    if (seen.has(bucket.id)) fail(`bucket ${bucket.id} appears twice`);
    seen.add(bucket.id);
    if (!Number.isFinite(bucket.limit)) fail(`bucket ${bucket.id}: limit must be finite`);
    assertCounting(bucket);
  }
}

function assertCounting({ id, metric, counting }: StoreBucket): void {
  if ((metric === 'concurrency') !== (counting.mode === 'concurrency')) {
    fail(`bucket ${id}: concurrency counts with mode 'concurrency' and nothing else does`);
  }
  if (counting.mode === 'log' && metric === 'cost') fail(`bucket ${id}: a log counts events, not cost`);
  for (const [name, value] of numbersOf(counting)) {
    if (!Number.isSafeInteger(value)) fail(`bucket ${id}: ${name} must be an integer (ms)`);
  }
  if ('lengthMs' in counting && counting.lengthMs <= 0) fail(`bucket ${id}: lengthMs must be > 0`);
  if (counting.mode === 'slices' && (counting.sliceMs <= 0 || counting.sliceMs > counting.lengthMs)) {
    fail(`bucket ${id}: sliceMs must be in (0, lengthMs]`);
  }
}

function numbersOf(counting: Counting): [string, number][] {
  switch (counting.mode) {
    case 'window':
      return counting.end === null
        ? [['start', counting.start]]
        : [
            ['start', counting.start],
            ['end', counting.end],
          ];
    case 'slices':
      return [
        ['lengthMs', counting.lengthMs],
        ['sliceMs', counting.sliceMs],
        ['floor', counting.floor],
      ];
    case 'log':
    case 'first_use':
      return [
        ['lengthMs', counting.lengthMs],
        ['floor', counting.floor],
      ];
    case 'concurrency':
      return [];
  }
}

/** µ$ amounts and times are integers: the scripts and the memory store count them exactly. */
function assertTokens(name: string, tokens: { input: number; output: number } | undefined): void {
  if (tokens === undefined) return;
  assertAmount(`${name}.input`, tokens.input);
  assertAmount(`${name}.output`, tokens.output);
}

export function assertAmount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) fail(`${name} must be a non-negative integer`);
}

export function assertTime(name: string, value: number): void {
  if (!Number.isSafeInteger(value)) fail(`${name} must be an integer (epoch ms)`);
}

export function assertId(name: string, value: string): void {
  if (value === '') fail(`${name} must not be empty`);
}

function fail(message: string): never {
  throw new TypeError(`counter store: ${message}`);
}

export function assertDecideInput(input: DecideInput): void {
  assertId('subject', input.subject);
  assertTime('now', input.now);
  assertAmount('estimate', input.estimate);
  assertTokens('tokenEstimate', input.tokenEstimate);
  assertAmount('sessionTtlMs', input.sessionTtlMs);
  if (input.reserve) {
    assertId('requestId', input.reserve.requestId);
    assertAmount('holdTtlMs', input.reserve.holdTtlMs);
  }
  assertBuckets(input.buckets);
}

export function assertSettleInput(input: SettleInput): void {
  assertId('subject', input.subject);
  assertId('requestId', input.requestId);
  assertTime('now', input.now);
  assertAmount('cost', input.cost);
  assertTokens('tokens', input.tokens);
  assertBuckets(input.buckets);
  if (input.ledgerXid != null && !/^\d{1,20}$/.test(input.ledgerXid))
    throw new TypeError('counter store: a settle names its ledger xid in decimal');
}

export function assertSeed(seed: SubjectSeed): void {
  assertId('subject', seed.subject);
  assertTime('now', seed.now);
  assertBuckets(seed.buckets.map((b) => b.bucket));
  if (typeof seed.generation !== 'string') throw new TypeError('counter store: a seed needs its generation');
  if (seed.watermark && !/^\d{1,20}:\d{1,20}:(\d{1,20}(,\d{1,20})*)?$/.test(seed.watermark.snapshot))
    throw new TypeError('counter store: a seed watermark is a pg_snapshot (xmin:xmax:xip,…)');
}

export function assertRelease(
  subject: string,
  requestId: string,
  buckets: readonly StoreBucket[],
  now: number,
): void {
  assertId('subject', subject);
  assertId('requestId', requestId);
  assertTime('now', now);
  assertBuckets(buckets);
}

export function assertExtend(input: ExtendInput): void {
  assertRelease(input.subject, input.requestId, input.buckets, input.now);
  assertTime('expiresAt', input.expiresAt);
  if (input.expiresAt <= input.now) throw new TypeError('counter store: an extension must end after now');
}

export function assertPeek(subject: string, buckets: readonly StoreBucket[], now: number): void {
  assertId('subject', subject);
  assertTime('now', now);
  assertBuckets(buckets);
}
