import { z } from 'zod';
import { modelEntryProblem } from '../../domain/model-patterns.js';
import { groupDescription, groupName, modelId, timestamp } from './group-fields.js';

const MAX_MODELS_PER_REQUEST = 1000;

const PATTERNS =
  'An entry ending in one `*` is a pattern: `claude-opus-*` matches every model starting with ' +
  '`claude-opus-` (that text alone included), and a bare `*` every model. A model resolves to ' +
  'the group holding its exact id, else to the group holding the longest pattern it matches';

const modelEntry = modelId
  .superRefine((entry, ctx) => {
    const problem = modelEntryProblem(entry);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe(
    'A model id exactly as the gateway sends it, or a pattern ending in one `*` (a `*` anywhere else is a 400); ' +
      '1–256 printable characters',
  )
  .meta({ examples: ['claude-opus-4-1', 'claude-opus-*'] });

const modelList = z
  .array(modelEntry)
  .max(MAX_MODELS_PER_REQUEST)
  .describe(`Models and patterns (at most ${MAX_MODELS_PER_REQUEST}); duplicates are ignored. ${PATTERNS}`);

export const createModelGroupBody = z
  .strictObject({
    name: groupName,
    description: groupDescription.optional(),
    models: modelList
      .optional()
      .describe(
        'Initial models and patterns; if any belongs to another group, nothing is created (409 model_conflict). ' +
          PATTERNS,
      ),
  })
  .meta({
    id: 'CreateModelGroup',
    examples: [
      { name: 'opus', description: 'Most capable models', models: ['claude-opus-4-1', 'claude-opus-*'] },
    ],
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
        'Models and patterns to add, all or nothing: if any belongs to another group (the same id or the ' +
          'same pattern), none is added (409 model_conflict). Entries already in this group are left as ' +
          `they are. ${PATTERNS}`,
      ),
  })
  .meta({ id: 'AddModels', examples: [{ models: ['claude-opus-4-1', 'claude-opus-4-*'] }] });

export const modelQuery = z.object({ model: modelId });

export const modelGroupSchema = z
  .object({
    id: z.number().int().describe('Numeric id'),
    name: z.string().describe('Unique name'),
    description: z.string().nullable().describe('Free text, or null'),
    models: z.array(z.string()).describe('Its models and patterns (ending in `*`), sorted by code point'),
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
    matchedBy: z
      .string()
      .nullable()
      .describe(
        "The group's entry that matched: the model's own id, else the longest pattern it matches; null when none",
      ),
  })
  .meta({
    id: 'ModelResolution',
    description: PATTERNS,
    examples: [
      { model: 'claude-opus-4-1', modelGroup: { id: 3, name: 'opus' }, matchedBy: 'claude-opus-4-1' },
      { model: 'claude-opus-4-5-20260101', modelGroup: { id: 3, name: 'opus' }, matchedBy: 'claude-opus-*' },
    ],
  });
