import { z } from 'zod';
import {
  LIMIT_MODES,
  LIMIT_SUBJECT_TYPES,
  MAX_ALERT_THRESHOLDS,
  METRICS,
  RESETS,
} from '../../domain/types.js';
import {
  instantIn,
  instantOut,
  metric,
  modelGroupIdFilter,
  modelGroupIdIn,
  modelGroupIdOut,
  quantityIn,
  subjectId,
  subjectIdFilter,
  windowIn,
  windowOut,
} from './quota-fields.js';

const mode = z
  .enum(LIMIT_MODES)
  .describe(
    'enforce (default) refuses at the cap; shadow is evaluated, charged and reported the same way but never ' +
      'refuses: roll a limit out in shadow, watch shadowRefused, then switch it to enforce',
  );

const alertAtIn = z
  .array(z.number())
  .max(MAX_ALERT_THRESHOLDS)
  .nullish()
  .describe(
    'Up to 5 distinct fractions in (0, 1] of the effective limit; a settle that crosses one sends a ' +
      'quota.threshold_crossed webhook event. With mode shadow this is a soft limit: it only warns.',
  )
  .meta({ examples: [[0.5, 0.8, 1]] });

const subjectType = z
  .enum(LIMIT_SUBJECT_TYPES)
  .describe(
    'user and key: opaque gateway ids; user_group: every member gets the cap on their own counter; ' +
      'everyone: a default cap for every user on their own counter, merged with the user’s and their ' +
      'groups’ limits (the largest wins; at equal caps it ranks after every group)',
  );

const SUBJECT_ID =
  'user or key id (1–256 printable characters); for subjectType user_group, the user group id ' +
  'in decimal ("7"), which must exist (404 otherwise); for subjectType everyone, "*"';

const OVERRIDE =
  'Only on a user limit (400 otherwise): the user’s cap for this scope, metric and window whatever ' +
  'their groups’ and everyone limits say, lower or higher; with limit 0 it blocks the user there. ' +
  'Not part of the natural key: writing the key again replaces the limit and its override.';

export const putLimitBody = z
  .strictObject({
    subjectType,
    subjectId: subjectId(SUBJECT_ID),
    modelGroupId: modelGroupIdIn,
    metric,
    window: windowIn,
    reset: z
      .enum(RESETS)
      .nullish()
      .describe(
        'How the window moves; default: calendar for daily/weekly/monthly, rolling for 5h and custom windows, ' +
          'none for total and concurrency. fixed is not for monthly; first_use not for monthly or total; ' +
          'calendar only for daily, weekly and monthly.',
      ),
    anchor: instantIn(
      'Start of the first fixed window; only with reset fixed; default the Unix epoch',
    ).nullish(),
    timezone: z
      .string()
      .max(64)
      .nullish()
      .describe('IANA time zone of calendar boundaries; only with reset calendar; default DEFAULT_TIMEZONE')
      .meta({ examples: ['Europe/Berlin'] }),
    resetTime: z
      .string()
      .max(5)
      .nullish()
      .describe('Calendar boundary time HH:MM (00:00–23:59); only with reset calendar; default 00:00')
      .meta({ examples: ['04:00'] }),
    limit: quantityIn(
      'The cap, ≥ 0 (0 blocks): US dollars with at most 6 decimals for cost (JSON number or decimal string), ' +
        'a whole number otherwise',
    ),
    mode: mode.nullish(),
    alertAt: alertAtIn,
    override: z.boolean().nullish().describe(`${OVERRIDE} Default false.`),
  })
  .meta({
    id: 'PutLimitRequest',
    description: 'A limit, replacing the one with the same subject, scope, metric and window slot',
    examples: [
      { subjectType: 'user', subjectId: 'u-42', modelGroupId: 3, metric: 'cost', window: '5h', limit: 10.5 },
    ],
  });

export const limitSchema = z
  .object({
    id: z.number().int().describe('Limit id'),
    subjectType,
    subjectId: z.string().describe(SUBJECT_ID),
    modelGroupId: modelGroupIdOut,
    metric: z.enum(METRICS).describe('What the limit counts'),
    window: windowOut,
    reset: z.enum(RESETS).nullable().describe('How the window moves; null for total and concurrency'),
    anchor: instantOut('Start of the first fixed window; null: the Unix epoch').nullable(),
    timezone: z.string().nullable().describe('IANA zone of calendar boundaries; null: DEFAULT_TIMEZONE'),
    resetTime: z.string().nullable().describe('Calendar boundary HH:MM; null: 00:00'),
    limit: z.number().describe('The cap: US dollars (6 decimals) for cost, a count otherwise'),
    mode,
    alertAt: z.array(z.number()).describe('Alert thresholds, ascending fractions of the effective limit'),
    override: z.boolean().describe(OVERRIDE),
    createdAt: instantOut('When the limit was first written'),
    updatedAt: instantOut('When the limit was last written'),
  })
  .meta({
    id: 'Limit',
    description: 'A cap for one subject, one scope (model group or all models), one metric, one window',
    examples: [
      {
        id: 12,
        subjectType: 'user',
        subjectId: 'u-42',
        modelGroupId: 3,
        metric: 'cost',
        window: '5h',
        reset: 'rolling',
        anchor: null,
        timezone: null,
        resetTime: null,
        limit: 10.5,
        mode: 'enforce',
        alertAt: [0.8, 1],
        override: false,
        createdAt: '2027-01-04T00:00:00.000Z',
        updatedAt: '2027-01-04T00:00:00.000Z',
      },
    ],
  });

export const limitListQuery = z.strictObject({
  subjectType: subjectType.optional(),
  subjectId: subjectIdFilter.optional(),
  modelGroupId: modelGroupIdFilter.optional(),
  metric: metric.optional(),
});

export const limitList = z
  .object({ items: z.array(limitSchema).describe('Matching limits, by id') })
  .meta({ id: 'LimitList' });
