import { createBoost, getBoost, listBoosts, revokeBoost } from '../../../admin/boosts.js';
import {
  boostList,
  boostListQuery,
  boostSchema,
  createBoostBody,
  createdBoostSchema,
} from '../../schemas/boosts.js';
import { noContent } from '../../schemas/quota-fields.js';
import { rowIdParams } from '../../schemas/row-id.js';
import type { ZodApp } from '../../types.js';
import { adminContext, type AdminRouteDeps } from './index.js';

export async function boostRoutes(app: ZodApp, deps: AdminRouteDeps): Promise<void> {
  const params = rowIdParams('boost');

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
      return reply.code(201).header('location', `/admin/boosts/${boost.id}`).send(boost);
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

  app.get(
    '/boosts/:id',
    { schema: { summary: 'Read a boost', params, response: { 200: boostSchema } } },
    async (request) => getBoost(deps.db, request.params.id),
  );

  app.delete(
    '/boosts/:id',
    {
      schema: {
        summary: 'Revoke a boost',
        description: 'Deletes the boost; it stops applying at once (the audit log keeps it).',
        params,
        response: { 204: noContent },
      },
    },
    async (request, reply) => {
      await revokeBoost(adminContext(deps, request), request.params.id);
      return reply.code(204).send(null);
    },
  );
}
