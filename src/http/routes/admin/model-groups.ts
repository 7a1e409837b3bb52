import { z } from 'zod';
import * as service from '../../../admin/model-groups.js';
import type { ModelGroup } from '../../../db/repositories/model-groups.js';
import { idParams } from '../../schemas/group-fields.js';
import {
  addModelsBody,
  createModelGroupBody,
  modelGroupListSchema,
  modelGroupSchema,
  modelQuery,
  modelResolutionSchema,
  updateModelGroupBody,
} from '../../schemas/model-groups.js';
import type { ZodApp } from '../../types.js';
import { adminContext, type AdminRouteDeps } from './index.js';

const toDto = (g: ModelGroup): z.infer<typeof modelGroupSchema> => ({
  ...g,
  createdAt: g.createdAt.toISOString(),
  updatedAt: g.updatedAt.toISOString(),
});

/** SPEC §5: model groups, their models, and which group a model resolves to. */
export async function modelGroupRoutes(app: ZodApp, deps: AdminRouteDeps): Promise<void> {
  app.post(
    '/model-groups',
    {
      schema: {
        summary: 'Create a model group, optionally with its models (all or nothing)',
        body: createModelGroupBody,
        response: { 201: modelGroupSchema },
      },
    },
    async (request, reply) => {
      const group = await service.createModelGroup(adminContext(deps, request), request.body);
      return reply.code(201).header('location', `/admin/model-groups/${group.id}`).send(toDto(group));
    },
  );

  app.get(
    '/model-groups',
    { schema: { summary: 'List model groups with their models', response: { 200: modelGroupListSchema } } },
    async () => ({ items: (await service.listModelGroups(deps.db)).map(toDto) }),
  );

  app.get(
    '/model-groups/:id',
    { schema: { summary: 'Read a model group', params: idParams, response: { 200: modelGroupSchema } } },
    async (request) => toDto(await service.getModelGroup(deps.db, request.params.id)),
  );

  app.patch(
    '/model-groups/:id',
    {
      schema: {
        summary: 'Rename a model group or change its description',
        params: idParams,
        body: updateModelGroupBody,
        response: { 200: modelGroupSchema },
      },
    },
    async (request) =>
      toDto(await service.updateModelGroup(adminContext(deps, request), request.params.id, request.body)),
  );

  app.delete(
    '/model-groups/:id',
    {
      schema: {
        summary: 'Delete a model group; its limits, boosts and reset markers go with it',
        params: idParams,
        response: { 204: z.null().describe('Deleted') },
      },
    },
    async (request, reply) => {
      await service.deleteModelGroup(adminContext(deps, request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/model-groups/:id/models',
    {
      schema: {
        summary: 'Add models or patterns to a group (all or nothing)',
        params: idParams,
        body: addModelsBody,
        response: { 200: modelGroupSchema },
      },
    },
    async (request) =>
      toDto(await service.addModels(adminContext(deps, request), request.params.id, request.body.models)),
  );

  app.delete(
    '/model-groups/:id/models',
    {
      schema: {
        summary: 'Remove one model or pattern from a group (404 if it is not in this group)',
        params: idParams,
        querystring: modelQuery,
        response: { 200: modelGroupSchema },
      },
    },
    async (request) =>
      toDto(await service.removeModel(adminContext(deps, request), request.params.id, request.query.model)),
  );

  app.get(
    '/models/resolve',
    {
      schema: {
        summary:
          'Which model group a model belongs to (exact id, else longest pattern) and the entry that matched',
        querystring: modelQuery,
        response: { 200: modelResolutionSchema },
      },
    },
    async (request) => service.resolveModel(deps.db, request.query.model),
  );
}
