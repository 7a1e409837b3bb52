import { listAudit, type AuditRecord } from '../../../db/repositories/audit.js';
import { auditListSchema, auditQuery } from '../../schemas/audit.js';
import type { ZodApp } from '../../types.js';
import type { AdminRouteDeps } from './index.js';

const toDto = (a: AuditRecord) => ({ ...a, at: a.at.toISOString() });

/** SPEC §5: the admin changes, newest first. A plain read: no service logic to host. */
export async function auditRoutes(app: ZodApp, deps: AdminRouteDeps): Promise<void> {
  app.get(
    '/audit',
    {
      schema: {
        summary: 'Admin changes: who (token name), what, before/after, when; newest first',
        querystring: auditQuery,
        response: { 200: auditListSchema },
      },
    },
    async (request) => ({ items: (await listAudit(deps.db, request.query.limit)).map(toDto) }),
  );
}
