import { z } from 'zod';
import { groupDescription, groupName, modelId, timestamp } from './group-fields.js';

const MAX_MODELS_PER_REQUEST = 1000;

const modelList = z
  .array(modelId)
  .max(MAX_MODELS_PER_REQUEST)
  .describe(`Models (at most ${MAX_MODELS_PER_REQUEST}); duplicates are ignored`);

export const createModelGroupBody = z
  .strictObject({
    name: groupName,
    description: groupDescription.optional(),
    models: modelList
      .optional()
      .describe('Initial models; if any belongs to another group, nothing is created (409 model_conflict)'),
  })
  .meta({
    id: 'CreateModelGroup',
    examples: [{ name: 'opus', description: 'Most capable models', models: ['claude-opus-4-1'] }],
  });

export const updateModelGroupBody = z
  .strictObject({
    name: groupName.optional(),
    description: groupDescription.nullable().optional().describe('New description; null clears it'),
  })
  .refine((b) => b.name !== undefined || b.description !== undefined, 'name or description is required')
  .meta({ id: 'UpdateModelGroup', examples: [{ name: 'opus-tier' }] });

export const addModelsBody = z
  .strictObject({
    models: modelList
      .min(1)
      .describe(
        'Models to add, all or nothing: if any belongs to another group, none is added (409 model_conflict). ' +
          'Models already in this group are left as they are',
      ),
  })
  .meta({ id: 'AddModels', examples: [{ models: ['claude-opus-4-1', 'claude-opus-4-0'] }] });

export const modelQuery = z.object({ model: modelId });

export const modelGroupSchema = z
  .object({
    id: z.number().int().describe('Numeric id'),
    name: z.string().describe('Unique name'),
    description: z.string().nullable().describe('Free text, or null'),
    models: z.array(z.string()).describe('Its models, sorted by code point'),
    createdAt: timestamp('When it was created'),
    updatedAt: timestamp('When its name or description last changed'),
  })
  .meta({
    id: 'ModelGroup',
    examples: [
      {
        id: 3,
        name: 'opus',
        description: 'Most capable models',
        models: ['claude-opus-4-0', 'claude-opus-4-1'],
        createdAt: '2025-01-01T00:00:00.000Z',
        updatedAt: '2025-01-01T00:00:00.000Z',
      },
    ],
  });

export const modelGroupListSchema = z
  .object({ items: z.array(modelGroupSchema).describe('Every model group, by id') })
  .meta({ id: 'ModelGroupList' });

export const modelResolutionSchema = z
  .object({
    model: z.string().describe('The model asked about'),
    modelGroup: z
      .object({ id: z.number().int().describe('Group id'), name: z.string().describe('Group name') })
      .nullable()
      .describe('The group the model belongs to, or null: only "all models" limits apply to it'),
  })
  .meta({
    id: 'ModelResolution',
    examples: [{ model: 'claude-opus-4-1', modelGroup: { id: 3, name: 'opus' } }],
  });
