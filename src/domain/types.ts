/** Vocabulary of SPEC §1, shared by the admin API, the snapshot and the decision core. */
export const METRICS = [
  'cost',
  'requests',
  'sessions',
  'concurrency',
  'input_tokens',
  'output_tokens',
  'tokens',
] as const;
export type Metric = (typeof METRICS)[number];

/** LLM token metrics (SPEC §4.7): counted like cost, in whole tokens; `tokens` is input + output. */
export const TOKEN_METRICS = ['input_tokens', 'output_tokens', 'tokens'] as const;
export type TokenMetric = (typeof TOKEN_METRICS)[number];

/** Metrics whose estimate is held at /reserve and whose actual amount is charged at /settle. */
export type HeldMetric = 'cost' | TokenMetric;

export const isTokenMetric = (metric: Metric): metric is TokenMetric =>
  (TOKEN_METRICS as readonly Metric[]).includes(metric);

export const isHeldMetric = (metric: Metric): metric is HeldMetric =>
  metric === 'cost' || isTokenMetric(metric);

/** What a request holds (estimates) or charges (actuals) on the metrics that hold: µ$ and tokens. */
export interface HeldAmounts {
  costMicros: number;
  inputTokens: number;
  outputTokens: number;
}

export const NO_AMOUNTS: HeldAmounts = { costMicros: 0, inputTokens: 0, outputTokens: 0 };

/** The part of `amounts` a bucket of `metric` holds or is charged: 0 for counting metrics. */
export function amountOf(metric: Metric, amounts: HeldAmounts): number {
  switch (metric) {
    case 'cost':
      return amounts.costMicros;
    case 'input_tokens':
      return amounts.inputTokens;
    case 'output_tokens':
      return amounts.outputTokens;
    case 'tokens':
      return amounts.inputTokens + amounts.outputTokens;
    default:
      return 0;
  }
}

/** SPEC §9.1: `everyone` (subject id `*`) is a default cap, a candidate of every user axis. */
export const LIMIT_SUBJECT_TYPES = ['user', 'user_group', 'key', 'everyone'] as const;
export type LimitSubjectType = (typeof LIMIT_SUBJECT_TYPES)[number];

/** The only subject id an `everyone` limit has. */
export const EVERYONE_SUBJECT_ID = '*';

/** Boosts and reset markers act on a bucket, and buckets are owned by users and keys. */
export const BUCKET_SUBJECT_TYPES = ['user', 'key'] as const;
export type BucketSubjectType = (typeof BUCKET_SUBJECT_TYPES)[number];

export const RESETS = ['rolling', 'fixed', 'first_use', 'calendar'] as const;
export type Reset = (typeof RESETS)[number];

/** SPEC §4.8: a shadow limit is evaluated and charged like an enforced one, but never refuses. */
export const LIMIT_MODES = ['enforce', 'shadow'] as const;
export type LimitMode = (typeof LIMIT_MODES)[number];

/** SPEC §1: at most this many distinct alert thresholds per limit. */
export const MAX_ALERT_THRESHOLDS = 5;

/** A configured limit, as the snapshot holds it (times in epoch ms, cap in µ$ or a count). */
export interface LimitRecord {
  id: number;
  subjectType: LimitSubjectType;
  subjectId: string;
  modelGroupId: number | null;
  metric: Metric;
  /** As the operator wrote it (`300m`); null for concurrency, which has no window. */
  window: string | null;
  /** Normalized window (`5h`): the merge key of SPEC §3. */
  slot: string;
  reset: Reset | null;
  anchor: number | null;
  timezone: string | null;
  resetTime: string | null;
  cap: number;
  mode: LimitMode;
  /** Fractions in (0, 1] of the effective limit whose crossing alerts (SPEC §5.1), ascending; [] for none. */
  alertAt: number[];
  /** SPEC §9.3, user limits only: the bucket's cap as written, never merged with groups or `everyone`. */
  override: boolean;
}

export interface BoostRecord {
  id: number;
  subjectType: BucketSubjectType;
  subjectId: string;
  modelGroupId: number | null;
  metric: Metric;
  window: string | null;
  slot: string;
  amount: number;
  startsAt: number;
  expiresAt: number;
}

export interface ResetMarkerRecord {
  subjectType: BucketSubjectType;
  subjectId: string;
  modelGroupId: number | null;
  metric: Metric;
  slot: string;
  resetAt: number;
}
