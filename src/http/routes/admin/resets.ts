import { createResetMarker, listResetMarkers } from '../../../admin/resets.js';
import { createResetBody, resetList, resetListQuery, resetMarkerSchema } from '../../schemas/resets.js';
import type { ZodApp } from '../../types.js';
import { adminContext, type AdminRouteDeps } from './index.js';

export async function resetRoutes(app: ZodApp, deps: AdminRouteDeps): Promise<void> {
  app.post(
    '/resets',
    {
      schema: {
        summary: 'Reset one bucket now',
        description:
          'Writes a reset marker at the request’s time: the bucket (subject, scope, metric, window slot) ' +
          'counts only usage after it. The ledger keeps all usage. A marker has no read of its own: ' +
          '`Location` names the list of the subject’s markers, which holds it.',
        body: createResetBody,
        response: { 201: resetMarkerSchema },
      },
    },
    async (request, reply) => {
      const marker = await createResetMarker(adminContext(deps, request), request.body, request.now);
      const filter = new URLSearchParams({ subjectType: marker.subjectType, subjectId: marker.subjectId });
      return reply.code(201).header('location', `/admin/resets?${filter.toString()}`).send(marker);
    },
  );

  app.get(
    '/resets',
    {
      schema: {
        summary: 'List reset markers',
        querystring: resetListQuery,
        response: { 200: resetList },
      },
    },
    async (request) => ({ items: await listResetMarkers(deps.db, request.query) }),
  );
}
