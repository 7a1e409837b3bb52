import { z } from 'zod';
import { BUCKET_SUBJECT_TYPES } from '../../domain/types.js';
import { bucketAddressIn, bucketAddressOut, instantOut, subjectIdFilter } from './quota-fields.js';

const subjectType = z.enum(BUCKET_SUBJECT_TYPES).describe('The bucket’s owner: a user or a key');

export const createResetBody = z.strictObject(bucketAddressIn(subjectType)).meta({
  id: 'CreateResetRequest',
  description: 'Resets one bucket now: it counts only usage after the marker; the ledger keeps everything',
  examples: [{ subjectType: 'user', subjectId: 'u-42', modelGroupId: 3, metric: 'cost', window: '5h' }],
});

export const resetMarkerSchema = z
  .object({
    id: z.number().int().describe('Reset marker id'),
    ...bucketAddressOut(subjectType, 'The bucket’s metric'),
    resetAt: instantOut('Usage before this instant no longer counts in the bucket'),
    createdAt: instantOut('When the marker was written'),
  })
  .meta({ id: 'ResetMarker', description: 'A reset of one bucket (subject, scope, metric, window slot)' });

export const resetListQuery = z.strictObject({
  subjectType: subjectType.optional(),
  subjectId: subjectIdFilter.optional(),
});

export const resetList = z
  .object({ items: z.array(resetMarkerSchema).describe('Matching reset markers, by id') })
  .meta({ id: 'ResetMarkerList' });
