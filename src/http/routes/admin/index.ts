import type { FastifyRequest } from 'fastify';
import type { AppConfig } from '../../../config.js';
import type { AdminContext } from '../../../admin/admin-write.js';
import type { Db } from '../../../db/client.js';
import type { ConfigSync } from '../../../snapshot/config-sync.js';
import { requireRole, type Principal } from '../../auth.js';
import { problemSchema } from '../../problem.js';
import type { ZodApp } from '../../types.js';
import { auditRoutes } from './audit.js';
import { boostRoutes } from './boosts.js';
import { limitRoutes } from './limits.js';
import { modelGroupRoutes } from './model-groups.js';
import { resetRoutes } from './resets.js';
import { userGroupRoutes } from './user-groups.js';
import { webhookRoutes } from './webhooks.js';

export interface AdminRouteDeps {
  db: Db;
  sync: ConfigSync;
  config: AppConfig;
  authenticate: (token: string) => Principal | null;
}

/** The admin context of one request: who acts (token name) and where. */
export function adminContext(deps: AdminRouteDeps, request: FastifyRequest): AdminContext {
  return { db: deps.db, sync: deps.sync, actor: request.principal?.name ?? 'unknown' };
}

const ERROR_RESPONSES = {
  400: problemSchema,
  401: problemSchema,
  403: problemSchema,
  404: problemSchema,
  409: problemSchema,
  503: problemSchema,
};

/** Everything under /admin: admin token required, documented with the adminToken scheme. */
export async function adminRoutes(app: ZodApp, deps: AdminRouteDeps): Promise<void> {
  app.addHook('onRequest', requireRole(deps.authenticate, 'admin'));
  app.addHook('onRoute', (route) => {
    const schema = (route.schema ??= {});
    Object.assign(schema, {
      tags: ['admin'],
      security: [{ adminToken: [] }],
      response: { ...ERROR_RESPONSES, ...(schema.response as object | undefined) },
    });
  });
  // Only the deps: passing this plugin's options on would repeat its `/admin` prefix.
  const routeDeps: AdminRouteDeps = {
    db: deps.db,
    sync: deps.sync,
    config: deps.config,
    authenticate: deps.authenticate,
  };
  await app.register(modelGroupRoutes, routeDeps);
  await app.register(userGroupRoutes, routeDeps);
  await app.register(limitRoutes, routeDeps);
  await app.register(boostRoutes, routeDeps);
  await app.register(resetRoutes, routeDeps);
  await app.register(auditRoutes, routeDeps);
  await app.register(webhookRoutes, routeDeps);
}
