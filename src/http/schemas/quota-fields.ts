import { z } from 'zod';
import { MAX_ROW_ID, SUBJECT_ID_MAX_LENGTH, SUBJECT_ID_PATTERN } from '../../domain/limit-rules.js';
import { METRICS } from '../../domain/types.js';
import { expecting } from './error-map.js';
import { rowId } from './row-id.js';

/**
 * Fields shared by the limit, boost and reset-marker schemas. zod checks shape and
 * documents it; the SPEC rules that relate fields live in src/domain/limit-rules.ts.
 */
export const subjectId = (description: string) =>
  z
    .string()
    .min(1)
    .max(SUBJECT_ID_MAX_LENGTH)
    .regex(SUBJECT_ID_PATTERN, 'must contain printable characters only')
    .describe(description)
    .meta({ examples: ['u-42'] });

export const metric = z
  .enum(METRICS)
  .describe(
    'cost (US dollars), requests, sessions (distinct session admissions), concurrency (held reservations), ' +
      'or LLM tokens: input_tokens, output_tokens, tokens (input + output)',
  );

export const windowIn = z
  .string()
  .max(32)
  .nullish()
  .describe(
    'Window length: 5h, daily, weekly, monthly, total, or a custom <n>s|<n>m|<n>h|<n>d between 1s and 400d. ' +
      'Required for every metric but concurrency, which takes none. Windows of equal length are one slot ' +
      '(5h ≡ 300m ≡ 18000s; daily ≡ 24h ≡ 1d; weekly ≡ 7d); the text is kept as written.',
  )
  .meta({ examples: ['5h', 'daily', '20h'] });

export const windowOut = z
  .string()
  .nullable()
  .describe('Window as written by the operator; null for concurrency');

export const modelGroupIdIn = z
  .number()
  .int()
  .min(1)
  .max(MAX_ROW_ID)
  .nullable()
  .default(null)
  .describe('Model group the entry applies to (must exist, else 404); null or omitted: all models');

export const modelGroupIdOut = z.number().int().nullable().describe('Model group id; null: all models');

export const subjectIdFilter = z
  .string()
  .min(1)
  .max(SUBJECT_ID_MAX_LENGTH)
  .regex(SUBJECT_ID_PATTERN, 'must contain printable characters only')
  .describe('Only entries of this subject id');

/** `all` and `null` both select the all-models scope (`modelGroupId=null` reads naturally in scripts). */
export const modelGroupIdFilter = z
  .union([z.enum(['all', 'null']).transform(() => null), rowId()], {
    error: `must be a model group id (1 to ${MAX_ROW_ID}), all or null`,
  })
  .describe('Only entries on this model group id; `all` or `null`: only entries on the all-models scope');

/** A decimal in a string is parsed from its text, so `"0.1"` is exactly 100000 µ$. */
export const quantityIn = (description: string) =>
  z
    .union([z.number(), z.string().max(40)], {
      error: expecting('a number (US dollars for cost) or a decimal string'),
    })
    .describe(description)
    .meta({ examples: [10.5, '0.000001', 100] });

export const instantIn = (description: string) =>
  z.iso.datetime({ offset: true }).describe(`${description} (RFC 3339 date-time with Z or an offset)`);

export const instantOut = (description: string) => z.iso.datetime().describe(description);

export const noContent = z.null().describe('No content');

/** The address of one bucket (whose, which scope, metric, window): what boosts and resets act on. */
export const bucketAddressIn = <T extends z.ZodType>(subjectType: T) => ({
  subjectType,
  subjectId: subjectId('User or key id, 1–256 printable characters'),
  modelGroupId: modelGroupIdIn,
  metric,
  window: windowIn,
});

export const bucketAddressOut = <T extends z.ZodType>(subjectType: T, metricDescription: string) => ({
  subjectType,
  subjectId: z.string().describe('User or key id'),
  modelGroupId: modelGroupIdOut,
  metric: metric.describe(metricDescription),
  window: windowOut,
});
