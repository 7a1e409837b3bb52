import { z } from 'zod';
import { groupDescription, groupName, idParams, timestamp, userId } from './group-fields.js';

const MAX_USERS_PER_REQUEST = 1000;

export const createUserGroupBody = z
  .strictObject({ name: groupName, description: groupDescription.optional() })
  .meta({ id: 'CreateUserGroup', examples: [{ name: 'pro', description: 'Paying users' }] });

export const updateUserGroupBody = z
  .strictObject({
    name: groupName.optional(),
    description: groupDescription.nullable().optional().describe('New description; null clears it'),
  })
  .refine((b) => b.name !== undefined || b.description !== undefined, 'name or description is required')
  .meta({ id: 'UpdateUserGroup', examples: [{ description: 'Paying users (monthly and yearly)' }] });

export const addMembersBody = z
  .strictObject({
    userIds: z
      .array(userId)
      .min(1)
      .max(MAX_USERS_PER_REQUEST)
      .describe(
        `Users to add (at most ${MAX_USERS_PER_REQUEST}); existing members and duplicates are ignored`,
      ),
  })
  .meta({ id: 'AddMembers', examples: [{ userIds: ['u-42', 'u-43'] }] });

export const memberParams = z.object({ id: idParams.shape.id, userId });

const summaryShape = {
  id: z.number().int().describe('Numeric id; limits name it as subjectId of subjectType user_group'),
  name: z.string().describe('Unique name; the gateway may name it in `groups`'),
  description: z.string().nullable().describe('Free text, or null'),
  memberCount: z.number().int().describe('Stored members'),
  createdAt: timestamp('When it was created'),
  updatedAt: timestamp('When its name or description last changed'),
};

const example = {
  id: 7,
  name: 'pro',
  description: 'Paying users',
  memberCount: 2,
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
};

export const userGroupSummarySchema = z
  .object(summaryShape)
  .meta({ id: 'UserGroupSummary', examples: [example] });

export const userGroupSchema = z
  .object({ ...summaryShape, members: z.array(z.string()).describe('Stored members, sorted by code point') })
  .meta({ id: 'UserGroup', examples: [{ ...example, members: ['u-42', 'u-43'] }] });

export const userGroupListSchema = z
  .object({ items: z.array(userGroupSummarySchema).describe('Every user group, by id') })
  .meta({ id: 'UserGroupList' });
