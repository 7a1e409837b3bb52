import { z } from 'zod';
import { BUCKET_SUBJECT_TYPES } from '../../domain/types.js';
import { freeText } from './group-fields.js';
import {
  bucketAddressIn,
  bucketAddressOut,
  instantIn,
  instantOut,
  quantityIn,
  subjectIdFilter,
} from './quota-fields.js';

const subjectType = z.enum(BUCKET_SUBJECT_TYPES).describe('Boosts add to a user’s or a key’s cap');

export const createBoostBody = z
  .strictObject({
    ...bucketAddressIn(subjectType),
    amount: quantityIn(
      'Added to the merged cap while active, > 0: US dollars with at most 6 decimals for cost, a whole number otherwise',
    ),
    startsAt: instantIn('When the boost starts applying; default now').nullish(),
    expiresAt: instantIn('When the boost stops applying; must be after startsAt'),
    reason: freeText(1000)
      .nullish()
      .describe('Why, for operators; at most 1000 characters, no control characters but tab and line breaks'),
  })
  .meta({
    id: 'CreateBoostRequest',
    description: 'A temporary addition to the cap of one (subject, scope, metric, window slot)',
    examples: [
      {
        subjectType: 'user',
        subjectId: 'u-42',
        modelGroupId: 3,
        metric: 'cost',
        window: 'daily',
        amount: 5,
        expiresAt: '2027-01-11T00:00:00Z',
        reason: 'launch week',
      },
    ],
  });

export const boostSchema = z
  .object({
    id: z.number().int().describe('Boost id'),
    ...bucketAddressOut(subjectType, 'What the boost adds to'),
    amount: z.number().describe('The addition: US dollars (6 decimals) for cost, a count otherwise'),
    startsAt: instantOut('Active from this instant (inclusive)'),
    expiresAt: instantOut('Active until this instant (exclusive)'),
    reason: z.string().nullable().describe('Why, for operators'),
    createdAt: instantOut('When the boost was created'),
  })
  .meta({
    id: 'Boost',
    description: 'Active while startsAt ≤ now < expiresAt; active boosts on one bucket add up',
    examples: [
      {
        id: 7,
        subjectType: 'user',
        subjectId: 'u-42',
        modelGroupId: 3,
        metric: 'cost',
        window: 'daily',
        amount: 5,
        startsAt: '2027-01-04T00:00:00.000Z',
        expiresAt: '2027-01-11T00:00:00.000Z',
        reason: 'launch week',
        createdAt: '2027-01-04T00:00:00.000Z',
      },
    ],
  });

export const createdBoostSchema = boostSchema
  .extend({
    warnings: z
      .array(z.string())
      .describe('Why the boost may not act as expected, e.g. no limit it could add to; empty when none'),
  })
  .meta({ id: 'CreatedBoost', description: 'The boost as stored, with warnings' });

export const boostListQuery = z.strictObject({
  subjectType: subjectType.optional(),
  subjectId: subjectIdFilter.optional(),
  active: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional()
    .describe('true: only boosts active now; false: only scheduled or expired ones; omitted: all'),
});

export const boostList = z
  .object({ items: z.array(boostSchema).describe('Matching boosts, by id') })
  .meta({ id: 'BoostList' });
