import { createBoost, listBoosts, revokeBoost } from '../../../admin/boosts.js';
import { boostList, boostListQuery, createBoostBody, createdBoostSchema } from '../../schemas/boosts.js';
import { noContent, rowIdParams } from '../../schemas/quota-fields.js';
import type { ZodApp } from '../../types.js';
import { adminContext, type AdminRouteDeps } from './index.js';

export async function boostRoutes(app: ZodApp, deps: AdminRouteDeps): Promise<void> {
  app.post(
    '/boosts',
    {
      schema: {
        summary: 'Create a boost',
        description:
          'Adds `amount` to the merged cap of one bucket while startsAt ≤ now < expiresAt. A boost with ' +
          'no matching limit has no effect; the response says so in `warnings`.',
        body: createBoostBody,
        response: { 201: createdBoostSchema },
      },
    },
    async (request, reply) => {
      const boost = await createBoost(adminContext(deps, request), request.body, request.now);
      return reply.code(201).send(boost);
    },
  );

  app.get(
    '/boosts',
    {
      schema: {
        summary: 'List boosts',
        description: 'Every filter is optional; `active` is judged at the request’s time.',
        querystring: boostListQuery,
        response: { 200: boostList },
      },
    },
    async (request) => {
      const { active, ...filter } = request.query;
      const items = await listBoosts(deps.db, {
        ...filter,
        active: active === undefined ? undefined : { at: request.now, is: active },
      });
      return { items };
    },
  );

  app.delete(
    '/boosts/:id',
    {
      schema: {
        summary: 'Revoke a boost',
        description: 'Deletes the boost; it stops applying at once (the audit log keeps it).',
        params: rowIdParams('boost'),
        response: { 204: noContent },
      },
    },
    async (request, reply) => {
      await revokeBoost(adminContext(deps, request), request.params.id);
      return reply.code(204).send(null);
    },
  );
}
