import { z } from 'zod';
import type { BucketView, DecisionBody } from '../../domain/decision.js';
import { parseSpentUsd } from '../../domain/money.js';
import { BUCKET_SUBJECT_TYPES, LIMIT_SUBJECT_TYPES, METRICS, RESETS } from '../../domain/types.js';
import { expecting } from './error-map.js';
import { ID_MAX, modelId, PRINTABLE, PRINTABLE_MESSAGE, userId } from './group-fields.js';
import { METADATA_LIMITS, metadataProblem } from './metadata.js';
import type { Assignable } from './same-type.js';

/**
 * Bodies and replies of /check, /reserve, /settle, /release and /usage (SPEC §4). Unknown
 * fields are ignored (gateways send what they have); money arrives as dollars, a JSON
 * number or decimal string, and leaves these schemas as µ$ rounded half up (SPEC §1).
 * Every id and name is printable (src/domain/text-rules.ts).
 */
/** The bounds of the decision bodies, shared with their fast lanes (fast-lanes.ts). */
export const BOUNDS = {
  id: ID_MAX,
  requestId: 200,
  groups: 50,
  groupName: 100,
  /** A string amount of dollars, in characters. */
  usdText: 40,
  sessionTtlSeconds: 31_536_000,
  holdTtlSeconds: 86_400,
} as const;

export const opaque = (description: string, max: number = BOUNDS.id) =>
  z.string().min(1).max(max).regex(PRINTABLE, PRINTABLE_MESSAGE).describe(description);

/** A data-plane amount: any finite dollars ≥ 0, to the nearest µ$ (half up), never refused for precision. */
export const usd = (description: string) =>
  z
    .union([z.number(), z.string().max(BOUNDS.usdText)], {
      error: expecting('a number of US dollars or a decimal string'),
    })
    .transform((value, ctx) => {
      const parsed = parseSpentUsd(value);
      if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.message });
      return parsed.ok ? parsed.micros : 0;
    })
    .describe(
      `${description}. Dollars ≥ 0 as a JSON number or decimal string; more than 6 decimals are rounded ` +
        'half up to the micro-dollar (0.30000000000000004 is 0.3)',
    )
    .meta({ examples: [0.02, '0.0173'] });

/** A whole number of LLM tokens ≥ 0 (SPEC §4.2, §4.7); absent means 0. */
const tokenCount = (description: string) =>
  z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullish().describe(description);

const decisionFields = {
  userId,
  keyId: opaque('API key id; belongs to the user named in the same request').nullish(),
  groups: z
    .array(z.string().min(1).max(BOUNDS.groupName).regex(PRINTABLE, PRINTABLE_MESSAGE))
    .max(BOUNDS.groups)
    .nullish()
    .describe('User-group names the gateway knows the user belongs to; unknown names are ignored'),
  model: modelId,
  estimatedCostUsd: usd('Estimated cost in USD, held on every cost bucket until settle').nullish(),
  estimatedInputTokens: tokenCount('Estimated input tokens, held on input_tokens and tokens buckets'),
  estimatedOutputTokens: tokenCount('Estimated output tokens, held on output_tokens and tokens buckets'),
  sessionId: opaque('Session id: sessions limits count distinct admissions').nullish(),
  sessionTtlSeconds: z
    .number()
    .int()
    .min(1)
    .max(BOUNDS.sessionTtlSeconds)
    .nullish()
    .describe('Active period of a new session admission (default SESSION_TTL_SECONDS)'),
};

export const checkBody = z.object(decisionFields).meta({
  id: 'CheckRequest',
  examples: [
    { userId: 'u-42', keyId: 'k-9', groups: ['pro'], model: 'claude-opus-4-1', estimatedCostUsd: 0.02 },
  ],
});

export const requestId = opaque(
  'Idempotency key of the request (1–200 printable characters)',
  BOUNDS.requestId,
);

export const reserveBody = z
  .object({
    ...decisionFields,
    requestId,
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(BOUNDS.holdTtlSeconds)
      .nullish()
      .describe('Hold lifetime (default RESERVATION_TTL_SECONDS, at most 86400)'),
  })
  .meta({
    id: 'ReserveRequest',
    examples: [
      { userId: 'u-42', keyId: 'k-9', model: 'claude-opus-4-1', estimatedCostUsd: 0.02, requestId: 'r-1' },
    ],
  });

export const settleBody = z
  .object({
    requestId,
    costUsd: usd('Actual cost in USD, recorded in full even above the estimate'),
    inputTokens: tokenCount('Input tokens the request used, charged to input_tokens and tokens buckets'),
    outputTokens: tokenCount('Output tokens the request used, charged to output_tokens and tokens buckets'),
    metadata: z
      .record(z.string(), z.unknown())
      .superRefine((value, ctx) => {
        const problem = metadataProblem(value);
        if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
      })
      .nullish()
      .describe(
        `Stored with the ledger row: any JSON object nested at most ${METADATA_LIMITS.depth} levels, with at ` +
          `most ${METADATA_LIMITS.values} values and ${METADATA_LIMITS.text} characters of keys and strings; ` +
          'printable keys, no control characters but tab and line breaks in strings',
      ),
    userId: userId.nullish().describe('Required when no reservation is known for requestId'),
    keyId: opaque('API key id (direct settles)').nullish(),
    model: modelId.nullish().describe('Required when no reservation is known for requestId'),
    groups: decisionFields.groups,
  })
  .meta({ id: 'SettleRequest', examples: [{ requestId: 'r-1', costUsd: 0.0173 }] });

export const releaseBody = z.object({ requestId }).meta({ id: 'ReleaseRequest' });

export const usageQuery = z.object({
  userId,
  keyId: opaque('API key id').optional(),
  model: modelId.optional().describe('Without it: every bucket of the subject in every scope'),
  groups: z
    .string()
    .max(5_100)
    .transform((value, ctx) => {
      const names = value
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name.length > 0);
      if (names.length > 50) ctx.addIssue({ code: 'custom', message: 'at most 50 names' });
      if (names.some((name) => name.length > 100))
        ctx.addIssue({ code: 'custom', message: 'each name is at most 100 characters' });
      if (names.some((name) => !PRINTABLE.test(name)))
        ctx.addIssue({ code: 'custom', message: `each name ${PRINTABLE_MESSAGE}` });
      return names;
    })
    .optional()
    .describe(
      'Comma-separated user-group names the gateway knows the user belongs to, as `groups` in /check; unknown names are ignored',
    ),
});

const bucketView = z
  .object({
    key: z.string().describe('Bucket id: axis:owner|scope|metric|slot'),
    axis: z.enum(BUCKET_SUBJECT_TYPES),
    ownerId: z.string(),
    modelGroupId: z.number().int().nullable(),
    metric: z.enum(METRICS),
    window: z.string().nullable().describe('Slot; null for concurrency'),
    reset: z.enum(RESETS).nullable().describe('null for total and concurrency'),
    limit: z.number().describe('Merged cap (USD for cost)'),
    boost: z.number().describe('Active boosts added to the cap'),
    effectiveLimit: z.number(),
    used: z.number(),
    held: z.number(),
    remaining: z.number(),
    resetAt: z.string().nullable().describe('End of the current window, if it has one'),
    nextFreeAt: z
      .string()
      .nullable()
      .describe(
        'When `used` next goes down with nothing else changing: rolling, when the oldest counted usage leaves the window; fixed, calendar and first_use, `resetAt`; null for total, concurrency, or nothing used',
      ),
    retryAfterMs: z.number().int().nullable(),
    exceeded: z.boolean(),
    shadow: z
      .boolean()
      .describe('A shadow bucket (limit mode shadow, or SHADOW_MODE): charged and reported, never refusing'),
    source: z.object({
      subjectType: z.enum(LIMIT_SUBJECT_TYPES),
      subjectId: z.string(),
      limitId: z.number().int(),
    }),
  })
  .meta({ id: 'BucketState' });

export const decisionReply = z
  .object({
    allowed: z.boolean(),
    status: z.enum(['ok', 'rate_limited']),
    requestId: z.string().nullable(),
    reservation: z
      .object({ state: z.enum(['held', 'settled', 'released', 'expired']), expiresAt: z.string() })
      .nullable(),
    retryAfterMs: z.number().int().nullable().describe('Largest over the exceeded buckets; null if unknown'),
    reason: z.string().nullable(),
    buckets: z.array(bucketView),
    shadowRefused: z
      .array(z.string())
      .describe('Keys of shadow buckets that would have refused this request (SPEC §4.8)'),
    failOpen: z.boolean().describe('true: the counter store was unreachable and FAIL_MODE=open admitted it'),
  })
  .meta({ id: 'Decision' });

/**
 * Replies of /check and /reserve are built by src/domain/decision.ts and serialized without
 * zod (routes/decisions.ts): their type and this schema must stay one, or this alias fails
 * to typecheck, naming the field that drifted (test/http/reply-schema.test.ts).
 */
export type DecisionReplyChecks = [
  Assignable<DecisionBody, z.output<typeof decisionReply>>,
  Assignable<z.output<typeof decisionReply>, DecisionBody>,
  Assignable<BucketView, z.output<typeof bucketView>>,
  Assignable<z.output<typeof bucketView>, BucketView>,
];

export const settleReply = z
  .object({
    requestId: z.string(),
    status: z.literal('settled'),
    duplicate: z
      .boolean()
      .describe('true: this request id was already settled with this cost; nothing charged twice'),
    costUsd: z.number(),
    countedInUserGlobal: z.boolean(),
    countedInKeyGlobal: z.boolean(),
    buckets: z.array(z.string()).describe('Cost buckets charged'),
  })
  .meta({ id: 'SettleResult' });

export const releaseReply = z
  .object({ requestId: z.string(), state: z.literal('released') })
  .meta({ id: 'ReleaseResult' });

export const usageReply = z
  .object({
    userId: z.string(),
    keyId: z.string().nullable(),
    model: z.string().nullable(),
    modelGroup: z.object({ id: z.number().int(), name: z.string() }).nullable(),
    buckets: z.array(bucketView),
  })
  .meta({ id: 'Usage' });
