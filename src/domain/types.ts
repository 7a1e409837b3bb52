/** Vocabulary of SPEC §1, shared by the admin API, the snapshot and the decision core. */
export const METRICS = ['cost', 'requests', 'sessions', 'concurrency'] as const;
export type Metric = (typeof METRICS)[number];

export const LIMIT_SUBJECT_TYPES = ['user', 'user_group', 'key'] as const;
export type LimitSubjectType = (typeof LIMIT_SUBJECT_TYPES)[number];

/** Boosts and reset markers act on a bucket, and buckets are owned by users and keys. */
export const BUCKET_SUBJECT_TYPES = ['user', 'key'] as const;
export type BucketSubjectType = (typeof BUCKET_SUBJECT_TYPES)[number];

export const RESETS = ['rolling', 'fixed', 'first_use', 'calendar'] as const;
export type Reset = (typeof RESETS)[number];

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
