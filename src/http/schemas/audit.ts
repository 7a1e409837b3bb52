import { z } from 'zod';
import { timestamp } from './group-fields.js';

export const auditQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(100)
    .describe('How many entries, newest first (1–1000)'),
});

export const auditEntrySchema = z
  .object({
    id: z.number().int().describe('Sequence number'),
    actor: z.string().describe('Name of the admin token that made the change (never the token)'),
    action: z.string().describe('What was done, as `<entity>.<verb>`'),
    entityType: z.string().describe('Kind of the changed entity'),
    entityId: z.string().nullable().describe('Id of the changed entity'),
    before: z.unknown().describe('The entity before the change (null on create)'),
    after: z.unknown().describe('The entity after the change (null on delete)'),
    at: timestamp('When the change was made (start of its transaction)'),
  })
  .meta({
    id: 'AuditEntry',
    examples: [
      {
        id: 1,
        actor: 'ops',
        action: 'user_group.update',
        entityType: 'user_group',
        entityId: '7',
        before: { name: 'pro' },
        after: { name: 'pro-tier' },
        at: '2025-01-01T00:00:00.000Z',
      },
    ],
  });

export const auditListSchema = z
  .object({ items: z.array(auditEntrySchema).describe('Newest first') })
  .meta({ id: 'AuditList' });
