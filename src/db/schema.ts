import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  serial,
  text,
  timestamp,
  unique,
} from 'drizzle-orm/pg-core';

/**
 * Every table of quotagate. Config tables (groups, limits, boosts, resets) are read whole
 * into the snapshot; the ledger and the session admission log are the truth Redis is
 * rebuilt from. Money is integer micro-dollars (bigint, read as JS number: 2^53 µ$ is
 * about $9 billion, far past any cap).
 */
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const micros = (name: string) => bigint(name, { mode: 'number' });

/** One row (id = 1); bumped in the transaction of every admin write. */
export const configVersion = pgTable('config_version', {
  id: integer('id').primaryKey(),
  version: bigint('version', { mode: 'number' }).notNull(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

export const modelGroups = pgTable('model_groups', {
  id: serial('id').primaryKey(),
  name: text('name').notNull().unique('model_groups_name_unique'),
  description: text('description'),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/** A model belongs to at most one group, globally: the model is the primary key. */
export const modelGroupMembers = pgTable(
  'model_group_members',
  {
    model: text('model').primaryKey(),
    modelGroupId: integer('model_group_id')
      .notNull()
      .references(() => modelGroups.id, { onDelete: 'cascade' }),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('model_group_members_group_idx').on(t.modelGroupId)],
);

export const userGroups = pgTable('user_groups', {
  id: serial('id').primaryKey(),
  name: text('name').notNull().unique('user_groups_name_unique'),
  description: text('description'),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

export const userGroupMembers = pgTable(
  'user_group_members',
  {
    userGroupId: integer('user_group_id')
      .notNull()
      .references(() => userGroups.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.userGroupId, t.userId] }),
    index('user_group_members_user_idx').on(t.userId),
  ],
);

/**
 * `slot` is the normalized window (`5h` for 300m and 18000s); the natural key of SPEC §1
 * is (subject_type, subject_id, model_group_id, metric, slot) with NULL scope = all models.
 * `cap` is micro-dollars for cost, a count otherwise.
 */
export const limits = pgTable(
  'limits',
  {
    id: serial('id').primaryKey(),
    subjectType: text('subject_type').notNull(),
    subjectId: text('subject_id').notNull(),
    modelGroupId: integer('model_group_id').references(() => modelGroups.id, { onDelete: 'cascade' }),
    metric: text('metric').notNull(),
    window: text('window'),
    slot: text('slot').notNull(),
    reset: text('reset'),
    anchor: ts('anchor'),
    timezone: text('timezone'),
    resetTime: text('reset_time'),
    cap: micros('cap').notNull(),
    /** `enforce`, or `shadow`: evaluated and charged, never refusing (SPEC §4.8). */
    mode: text('mode').notNull().default('enforce'),
    /** Fractions of the effective limit whose crossing sends an alert (SPEC §5.1); null: none. */
    alertAt: jsonb('alert_at').$type<number[]>(),
    /** SPEC §9.3: a user's cap as written, not merged with groups or `everyone`; not part of the key. */
    override: boolean('override').notNull().default(false),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    check('limits_mode', sql`${t.mode} in ('enforce', 'shadow')`),
    check('limits_override_user', sql`not ${t.override} or ${t.subjectType} = 'user'`),
    check('limits_everyone_subject', sql`${t.subjectType} <> 'everyone' or ${t.subjectId} = '*'`),
    unique('limits_natural_key')
      .on(t.subjectType, t.subjectId, t.modelGroupId, t.metric, t.slot)
      .nullsNotDistinct(),
    index('limits_subject_idx').on(t.subjectType, t.subjectId),
    check('limits_cap_nonnegative', sql`${t.cap} >= 0`),
  ],
);

export const boosts = pgTable(
  'boosts',
  {
    id: serial('id').primaryKey(),
    subjectType: text('subject_type').notNull(),
    subjectId: text('subject_id').notNull(),
    modelGroupId: integer('model_group_id').references(() => modelGroups.id, { onDelete: 'cascade' }),
    metric: text('metric').notNull(),
    window: text('window'),
    slot: text('slot').notNull(),
    amount: micros('amount').notNull(),
    startsAt: ts('starts_at').notNull(),
    expiresAt: ts('expires_at').notNull(),
    reason: text('reason'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('boosts_subject_idx').on(t.subjectType, t.subjectId),
    index('boosts_expires_idx').on(t.expiresAt),
    check('boosts_amount_positive', sql`${t.amount} > 0`),
    check('boosts_period', sql`${t.expiresAt} > ${t.startsAt}`),
  ],
);

/** A bucket counts only usage at or after its latest marker. */
export const resetMarkers = pgTable(
  'reset_markers',
  {
    id: serial('id').primaryKey(),
    subjectType: text('subject_type').notNull(),
    subjectId: text('subject_id').notNull(),
    modelGroupId: integer('model_group_id').references(() => modelGroups.id, { onDelete: 'cascade' }),
    metric: text('metric').notNull(),
    window: text('window'),
    slot: text('slot').notNull(),
    resetAt: ts('reset_at').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('reset_markers_subject_idx').on(t.subjectType, t.subjectId)],
);

export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    entityType: text('entity_type').notNull(),
    entityId: text('entity_id'),
    before: jsonb('before'),
    after: jsonb('after'),
    at: ts('at').notNull().defaultNow(),
  },
  (t) => [index('audit_log_at_idx').on(t.at)],
);

/**
 * The usage ledger: one row per settled request, the truth Redis counters are rebuilt from.
 * `buckets` lists the bucket keys the cost was charged to; `countedIn*Global` record the
 * cost split of SPEC §2.5. `reservedAt` is when the request was counted (reserve time, or
 * settle time for a direct settle).
 *
 * Partitioned by month of `recordedAt` (migrations/0006_partitioned_ledger.sql; drizzle
 * cannot express partitioning, so drizzle-kit must not regenerate this table): the first
 * write's settle instant, never updated, so a released row turned settled stays in its
 * partition. A partitioned table's unique keys must hold the partition key, so the primary
 * key is (id, recorded_at) and request-id uniqueness lives in ledgerRequestIds.
 */
export const usageLedger = pgTable(
  'usage_ledger',
  {
    id: bigserial('id', { mode: 'number' }).notNull(),
    requestId: text('request_id').notNull(),
    userId: text('user_id').notNull(),
    keyId: text('key_id'),
    model: text('model').notNull(),
    modelGroupId: integer('model_group_id'),
    costMicros: micros('cost_micros').notNull(),
    /** LLM tokens the request used (SPEC §4.7); 0 when the settle named none. */
    inputTokens: bigint('input_tokens', { mode: 'number' }).notNull().default(0),
    outputTokens: bigint('output_tokens', { mode: 'number' }).notNull().default(0),
    countedInUserGlobal: boolean('counted_in_user_global').notNull(),
    countedInKeyGlobal: boolean('counted_in_key_global').notNull(),
    buckets: jsonb('buckets').$type<string[]>().notNull(),
    /** `settled`, or `released`: the upstream call did not happen (the request still counts). */
    status: text('status').notNull().default('settled'),
    reservedAt: ts('reserved_at'),
    settledAt: ts('settled_at').notNull(),
    metadata: jsonb('metadata'),
    recordedAt: ts('recorded_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.id, t.recordedAt] }),
    index('usage_ledger_user_time_idx').on(t.userId, t.settledAt),
    index('usage_ledger_key_time_idx').on(t.keyId, t.settledAt),
    // No index on `buckets`: a rebuild reads a bucket's rows by its owner's (id, time) index
    // (src/ledger/bucket-rows.ts); a GIN index there cost every settle and served no read
    // (migrations/0008).
    // A settle's lookup by request id (findRows): one probe per partition.
    index('usage_ledger_request_id_idx').on(t.requestId),
    check('usage_ledger_cost_nonnegative', sql`${t.costMicros} >= 0`),
    check('usage_ledger_tokens_nonnegative', sql`${t.inputTokens} >= 0 and ${t.outputTokens} >= 0`),
    check('usage_ledger_status', sql`${t.status} in ('settled', 'released')`),
  ],
);

/**
 * Every request id the ledger holds, with its row's `recorded_at` (so a settle updating a
 * released row touches one partition): the gate of insertEntries. Not partitioned; it
 * outlives a detached month, so a late duplicate settle is still not charged twice.
 */
export const ledgerRequestIds = pgTable(
  'ledger_request_ids',
  {
    requestId: text('request_id').primaryKey(),
    recordedAt: ts('recorded_at').notNull(),
  },
  (t) => [index('ledger_request_ids_recorded_at_idx').on(t.recordedAt)],
);

/**
 * Per-bucket sums of the ledger by epoch-aligned minute / hour / day slice, plus one
 * all-time row (level `all`, slice_start epoch), written in the transaction of the ledger
 * insert: a rebuild reads these for the old part of a window and raw rows only for the
 * recent edge. `requests` counts every row at coalesce(reserved_at, settled_at) like the
 * rebuild does; cost and tokens count settled rows at settled_at. The primary key INCLUDEs
 * the four amounts (migration 0007, which drizzle-kit cannot express), so those reads are
 * index-only: a busy bucket's rows lie one per heap page.
 */
export const ledgerRollups = pgTable(
  'ledger_rollups',
  {
    bucket: text('bucket').notNull(),
    level: text('level').notNull(),
    sliceStart: ts('slice_start').notNull(),
    requests: bigint('requests', { mode: 'number' }).notNull().default(0),
    costMicros: micros('cost_micros').notNull().default(0),
    inputTokens: bigint('input_tokens', { mode: 'number' }).notNull().default(0),
    outputTokens: bigint('output_tokens', { mode: 'number' }).notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.bucket, t.level, t.sliceStart] }),
    check('ledger_rollups_level', sql`${t.level} in ('minute', 'hour', 'day', 'all')`),
  ],
);

/** Starts of first_use windows, so losing Redis never moves a window (SPEC §1). */
export const firstUseWindows = pgTable(
  'first_use_windows',
  {
    bucketKey: text('bucket_key').notNull(),
    startedAt: ts('started_at').notNull(),
    lengthMs: bigint('length_ms', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.bucketKey, t.startedAt] })],
);

/**
 * Subjects whose settles committed while Redis was unreachable: their counters are rebuilt
 * from the ledger before their next decision.
 */
export const dirtySubjects = pgTable('dirty_subjects', {
  subject: text('subject').primaryKey(),
  markedAt: ts('marked_at').notNull().defaultNow(),
});

/** Every new session admission (SPEC §4.4), so admissions survive the loss of Redis. */
export const sessionAdmissions = pgTable(
  'session_admissions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    bucketKey: text('bucket_key').notNull(),
    ownerType: text('owner_type').notNull(),
    ownerId: text('owner_id').notNull(),
    sessionId: text('session_id').notNull(),
    requestId: text('request_id'),
    admittedAt: ts('admitted_at').notNull(),
    activeUntil: ts('active_until').notNull(),
  },
  (t) => [
    index('session_admissions_owner_time_idx').on(t.ownerType, t.ownerId, t.admittedAt),
    index('session_admissions_bucket_time_idx').on(t.bucketKey, t.admittedAt),
    // Write-behind from /reserve may be retried: one row per admission.
    unique('session_admissions_once').on(t.bucketKey, t.sessionId, t.admittedAt),
  ],
);

/**
 * Admitted reservations, written behind /reserve (SPEC §4.5). They let a rebuild keep the
 * request counts of reservations still open or lapsed without a settle (the ledger knows a
 * request only once it is settled or released), and a settle find its frozen buckets after
 * Redis lost the record. A row goes once the ledger holds its request; a lapsed one stays
 * as the durable count of a request that was admitted and never closed.
 */
export const reservations = pgTable(
  'reservations',
  {
    requestId: text('request_id').primaryKey(),
    userId: text('user_id').notNull(),
    reservedAt: ts('reserved_at').notNull(),
    expiresAt: ts('expires_at').notNull(),
    /** Display keys of the `requests` buckets the reservation counted 1 in. */
    buckets: jsonb('buckets').$type<string[]>().notNull(),
    /** The reservation payload (frozen buckets), as the counter store keeps it. */
    payload: text('payload').notNull(),
  },
  (t) => [
    index('reservations_buckets_idx').using('gin', sql`${t.buckets} jsonb_path_ops`),
    index('reservations_user_idx').on(t.userId, t.reservedAt),
  ],
);

/**
 * A ledger batch's promise to apply its settles to the counter store, written in the
 * batch's transaction and deleted once every apply finished. One still here after `due_at`
 * belongs to an instance that died (or a Redis that failed) between commit and apply: any
 * instance turns it into dirty marks of its subjects, so their counters are rebuilt.
 */
export const applyIntents = pgTable(
  'apply_intents',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    subjects: jsonb('subjects').$type<string[]>().notNull(),
    dueAt: ts('due_at').notNull(),
  },
  (t) => [index('apply_intents_due_idx').on(t.dueAt)],
);

/**
 * Alert receivers (SPEC §5.1). The secret signs every delivery (Standard Webhooks), so it is
 * kept as is; it is shown once, in the create answer, and never in a read, a log or the audit.
 */
export const webhooks = pgTable('webhooks', {
  id: serial('id').primaryKey(),
  url: text('url').notNull(),
  description: text('description'),
  secret: text('secret').notNull(),
  enabled: boolean('enabled').notNull().default(true),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/**
 * The outbox: one row per event, written in the transaction of what caused it. `id` is the
 * Standard Webhooks `webhook-id`; `payload` is the whole body, sent as PostgreSQL prints it.
 */
export const webhookEvents = pgTable('webhook_events', {
  id: text('id').primaryKey(),
  type: text('type').notNull(),
  payload: jsonb('payload').notNull(),
  createdAt: ts('created_at').notNull(),
});

/**
 * One row per (event, webhook). A pending row is due at `next_attempt_at`; a worker claims
 * it by moving `next_attempt_at` past its attempt (a lease), so no two instances send it at
 * once and a crashed instance's claim lapses on its own.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    eventId: text('event_id')
      .notNull()
      .references(() => webhookEvents.id, { onDelete: 'cascade' }),
    webhookId: integer('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    /** `pending`, `delivered` (a 2xx answer), or `failed` (the retry window passed). */
    status: text('status').notNull().default('pending'),
    /** Attempts started (a claim counts one). */
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at').notNull(),
    lastAttemptAt: ts('last_attempt_at'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    deliveredAt: ts('delivered_at'),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [
    unique('webhook_deliveries_once').on(t.eventId, t.webhookId),
    check('webhook_deliveries_status', sql`${t.status} in ('pending', 'delivered', 'failed')`),
    index('webhook_deliveries_due_idx')
      .on(t.nextAttemptAt)
      .where(sql`${t.status} = 'pending'`),
    index('webhook_deliveries_webhook_idx').on(t.webhookId, t.createdAt),
  ],
);
