import type { Executor, Tx } from '../db/client.js';
import * as repo from '../db/repositories/user-groups.js';
import type { UserGroup, UserGroupSummary } from '../db/repositories/user-groups.js';
import { AppError, notFound } from '../domain/errors.js';
import { adminWrite, type AdminContext, type AuditEntry } from './admin-write.js';
import type { UpdateGroupInput } from './model-groups.js';

export interface CreateUserGroupInput {
  name: string;
  description?: string | undefined;
}

const audit = (action: string, id: number, before: unknown, after: unknown): AuditEntry => ({
  action: `user_group.${action}`,
  entityType: 'user_group',
  entityId: id,
  before,
  after,
});

export function listUserGroups(db: Executor): Promise<UserGroupSummary[]> {
  return repo.listUserGroups(db);
}

export async function getUserGroup(db: Executor, id: number): Promise<UserGroup> {
  const group = await repo.findUserGroup(db, id);
  if (!group) throw notFound('user group', id);
  return group;
}

export function createUserGroup(ctx: AdminContext, input: CreateUserGroupInput): Promise<UserGroup> {
  return adminWrite(ctx, async (tx) => {
    const id = await repo.insertUserGroup(tx, { name: input.name, description: input.description ?? null });
    const group = await getUserGroup(tx, id);
    return { result: group, audit: audit('create', id, null, group) };
  });
}

export function updateUserGroup(ctx: AdminContext, id: number, patch: UpdateGroupInput): Promise<UserGroup> {
  return adminWrite(ctx, async (tx) => {
    const before = await lockAndRead(tx, id);
    await repo.updateUserGroup(tx, id, patch);
    const after = await getUserGroup(tx, id);
    return { result: after, audit: audit('update', id, before, after) };
  });
}

/** Its memberships and the limits naming it as subject go with it. */
export function deleteUserGroup(ctx: AdminContext, id: number): Promise<void> {
  return adminWrite(ctx, async (tx) => {
    const before = await lockAndRead(tx, id);
    await repo.deleteUserGroup(tx, id);
    return { result: undefined, audit: audit('delete', id, before, null) };
  });
}

/** Idempotent: existing members are kept; nothing new means no audit row. */
export function addMembers(ctx: AdminContext, id: number, userIds: string[]): Promise<UserGroup> {
  return adminWrite(ctx, async (tx) => {
    const before = await lockAndRead(tx, id);
    const added = await repo.addMembers(tx, id, userIds);
    if (added.length === 0) return { result: before, audit: [] };
    const after = await getUserGroup(tx, id);
    return { result: after, audit: audit('add_members', id, before, after) };
  });
}

export function removeMember(ctx: AdminContext, id: number, userId: string): Promise<UserGroup> {
  return adminWrite(ctx, async (tx) => {
    const before = await lockAndRead(tx, id);
    if (!(await repo.removeMember(tx, id, userId))) {
      throw new AppError('not_found', `user ${userId} is not a member of user group ${id}`);
    }
    const after = await getUserGroup(tx, id);
    return { result: after, audit: audit('remove_member', id, before, after) };
  });
}

/** Holds the group row until commit, so the before image is what the change replaces. */
async function lockAndRead(tx: Tx, id: number): Promise<UserGroup> {
  if (!(await repo.lockUserGroup(tx, id))) throw notFound('user group', id);
  return getUserGroup(tx, id);
}
