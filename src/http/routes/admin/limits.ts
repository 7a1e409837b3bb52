import { deleteLimit, getLimit, listLimits, putLimit } from '../../../admin/limits.js';
import { limitList, limitListQuery, limitSchema, putLimitBody } from '../../schemas/limits.js';
import { noContent } from '../../schemas/quota-fields.js';
import { rowIdParams } from '../../schemas/row-id.js';
import type { ZodApp } from '../../types.js';
import { adminContext, type AdminRouteDeps } from './index.js';

const idParams = rowIdParams('limit');

export async function limitRoutes(app: ZodApp, deps: AdminRouteDeps): Promise<void> {
  app.put(
    '/limits',
    {
      schema: {
        summary: 'Create or replace a limit',
        description:
          'Upsert by natural key (subjectType, subjectId, modelGroupId, metric, window slot): 201 when ' +
          'created, 200 when it replaced the limit of that key (override included: it is a field of the ' +
          'limit, not of its key). A default cap for every user is subjectType everyone, subjectId "*"; ' +
          'override (user limits only) sets a user’s cap outright, 0 blocks. Effective on this instance ' +
          'before the answer.',
        body: putLimitBody,
        response: { 200: limitSchema, 201: limitSchema },
      },
    },
    async (request, reply) => {
      const { limit, created } = await putLimit(adminContext(deps, request), request.body, request.now);
      if (created) reply.header('location', `/admin/limits/${limit.id}`);
      return reply.code(created ? 201 : 200).send(limit);
    },
  );

  app.get(
    '/limits',
    {
      schema: {
        summary: 'List limits',
        description: 'Every filter is optional; they combine with AND.',
        querystring: limitListQuery,
        response: { 200: limitList },
      },
    },
    async (request) => ({ items: await listLimits(deps.db, request.query) }),
  );

  app.get(
    '/limits/:id',
    { schema: { summary: 'Read a limit', params: idParams, response: { 200: limitSchema } } },
    async (request) => getLimit(deps.db, request.params.id),
  );

  app.delete(
    '/limits/:id',
    {
      schema: {
        summary: 'Delete a limit',
        description: 'Lifts the cap: there is no "unlimited" value, deleting is how a limit is removed.',
        params: idParams,
        response: { 204: noContent },
      },
    },
    async (request, reply) => {
      await deleteLimit(adminContext(deps, request), request.params.id);
      return reply.code(204).send(null);
    },
  );
}
