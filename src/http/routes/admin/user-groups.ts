import { z } from 'zod';
import * as service from '../../../admin/user-groups.js';
import type { UserGroupSummary } from '../../../db/repositories/user-groups.js';
import { idParams } from '../../schemas/group-fields.js';
import {
  addMembersBody,
  createUserGroupBody,
  memberParams,
  updateUserGroupBody,
  userGroupListSchema,
  userGroupSchema,
} from '../../schemas/user-groups.js';
import type { ZodApp } from '../../types.js';
import { adminContext, type AdminRouteDeps } from './index.js';

/** Timestamps as ISO strings; works for the summary and the detail (with members). */
const toDto = <G extends UserGroupSummary>(g: G) => ({
  ...g,
  createdAt: g.createdAt.toISOString(),
  updatedAt: g.updatedAt.toISOString(),
});

/** SPEC §5: user groups and their stored members. */
export async function userGroupRoutes(app: ZodApp, deps: AdminRouteDeps): Promise<void> {
  app.post(
    '/user-groups',
    {
      schema: {
        summary: 'Create a user group',
        body: createUserGroupBody,
        response: { 201: userGroupSchema },
      },
    },
    async (request, reply) => {
      const group = await service.createUserGroup(adminContext(deps, request), request.body);
      return reply.code(201).header('location', `/admin/user-groups/${group.id}`).send(toDto(group));
    },
  );

  app.get(
    '/user-groups',
    {
      schema: {
        summary: 'List user groups with their member counts',
        response: { 200: userGroupListSchema },
      },
    },
    async () => ({ items: (await service.listUserGroups(deps.db)).map(toDto) }),
  );

  app.get(
    '/user-groups/:id',
    {
      schema: {
        summary: 'Read a user group with its members',
        params: idParams,
        response: { 200: userGroupSchema },
      },
    },
    async (request) => toDto(await service.getUserGroup(deps.db, request.params.id)),
  );

  app.patch(
    '/user-groups/:id',
    {
      schema: {
        summary: 'Rename a user group or change its description',
        params: idParams,
        body: updateUserGroupBody,
        response: { 200: userGroupSchema },
      },
    },
    async (request) =>
      toDto(await service.updateUserGroup(adminContext(deps, request), request.params.id, request.body)),
  );

  app.delete(
    '/user-groups/:id',
    {
      schema: {
        summary: 'Delete a user group; its memberships and the limits naming it go with it',
        params: idParams,
        response: { 204: z.null().describe('Deleted') },
      },
    },
    async (request, reply) => {
      await service.deleteUserGroup(adminContext(deps, request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/user-groups/:id/members',
    {
      schema: {
        summary: 'Add members (idempotent)',
        params: idParams,
        body: addMembersBody,
        response: { 200: userGroupSchema },
      },
    },
    async (request) =>
      toDto(await service.addMembers(adminContext(deps, request), request.params.id, request.body.userIds)),
  );

  app.delete(
    '/user-groups/:id/members/:userId',
    {
      schema: {
        summary: 'Remove one member (404 if the user is not a member)',
        params: memberParams,
        response: { 200: userGroupSchema },
      },
    },
    async (request) =>
      toDto(
        await service.removeMember(adminContext(deps, request), request.params.id, request.params.userId),
      ),
  );
}
