import type { Executor, Tx } from '../db/client.js';
import * as repo from '../db/repositories/model-groups.js';
import type { ModelGroup } from '../db/repositories/model-groups.js';
import { AppError, notFound } from '../domain/errors.js';
import { buildModelIndex, candidateEntries } from '../domain/model-patterns.js';
import { adminWrite, type AdminContext, type AuditEntry } from './admin-write.js';

export interface CreateModelGroupInput {
  name: string;
  description?: string | undefined;
  models?: string[] | undefined;
}

export interface UpdateGroupInput {
  name?: string | undefined;
  /** null clears it. */
  description?: string | null | undefined;
}

export interface ModelResolution {
  model: string;
  modelGroup: { id: number; name: string } | null;
  /** The group's entry that matched (the model's id or a pattern), or null. */
  matchedBy: string | null;
}

const audit = (action: string, id: number, before: unknown, after: unknown): AuditEntry => ({
  action: `model_group.${action}`,
  entityType: 'model_group',
  entityId: id,
  before,
  after,
});

export function listModelGroups(db: Executor): Promise<ModelGroup[]> {
  return repo.listModelGroups(db);
}

export async function getModelGroup(db: Executor, id: number): Promise<ModelGroup> {
  const group = await repo.findModelGroup(db, id);
  if (!group) throw notFound('model group', id);
  return group;
}

/** Fetches only the entries that could match, then resolves them by the decisions' rule. */
export async function resolveModel(db: Executor, model: string): Promise<ModelResolution> {
  const owners = await repo.findModelOwners(db, candidateEntries(model));
  const index = buildModelIndex(
    [...owners.values()].map((o) => [o.model, { id: o.modelGroupId, name: o.modelGroupName }] as const),
  );
  const match = index.resolve(model);
  return { model, modelGroup: match?.group ?? null, matchedBy: match?.matchedBy ?? null };
}

/** The group and its models in one transaction: a model conflict leaves no empty group behind. */
export function createModelGroup(ctx: AdminContext, input: CreateModelGroupInput): Promise<ModelGroup> {
  return adminWrite(ctx, async (tx) => {
    const id = await repo.insertModelGroup(tx, { name: input.name, description: input.description ?? null });
    await repo.addModels(tx, id, input.models ?? []);
    const group = await getModelGroup(tx, id);
    return { result: group, audit: audit('create', id, null, group) };
  });
}

export function updateModelGroup(
  ctx: AdminContext,
  id: number,
  patch: UpdateGroupInput,
): Promise<ModelGroup> {
  return adminWrite(ctx, async (tx) => {
    const before = await lockAndRead(tx, id);
    await repo.updateModelGroup(tx, id, patch);
    const after = await getModelGroup(tx, id);
    return { result: after, audit: audit('update', id, before, after) };
  });
}

export function deleteModelGroup(ctx: AdminContext, id: number): Promise<void> {
  return adminWrite(ctx, async (tx) => {
    const before = await lockAndRead(tx, id);
    await repo.deleteModelGroup(tx, id);
    return { result: undefined, audit: audit('delete', id, before, null) };
  });
}

/** All or nothing; models already in this group are a no-op (and no audit row). */
export function addModels(ctx: AdminContext, id: number, models: string[]): Promise<ModelGroup> {
  return adminWrite(ctx, async (tx) => {
    const before = await lockAndRead(tx, id);
    const added = await repo.addModels(tx, id, models);
    if (added === 0) return { result: before, audit: [] };
    const after = await getModelGroup(tx, id);
    return { result: after, audit: audit('add_models', id, before, after) };
  });
}

export function removeModel(ctx: AdminContext, id: number, model: string): Promise<ModelGroup> {
  return adminWrite(ctx, async (tx) => {
    const before = await lockAndRead(tx, id);
    if (!(await repo.removeModel(tx, id, model))) {
      throw new AppError('not_found', `model ${model} is not in model group ${id}`);
    }
    const after = await getModelGroup(tx, id);
    return { result: after, audit: audit('remove_model', id, before, after) };
  });
}

/** Holds the group row until commit, so the before image is what the change replaces. */
async function lockAndRead(tx: Tx, id: number): Promise<ModelGroup> {
  if (!(await repo.lockModelGroup(tx, id))) throw notFound('model group', id);
  return getModelGroup(tx, id);
}
