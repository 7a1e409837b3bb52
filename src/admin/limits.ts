import type { Db } from '../db/client.js';
import {
  deleteLimit as deleteLimitRow,
  findLimit,
  findLimitByKey,
  listLimits as listLimitRows,
  lockLimitKey,
  upsertLimit,
  type LimitFilter,
} from '../db/repositories/limits.js';
import { notFound } from '../domain/errors.js';
import { validateLimit, type LimitInput } from '../domain/limit-rules.js';
import { adminWrite, type AdminContext } from './admin-write.js';
import { requireScope, requireSubject, valid } from './preconditions.js';
import { toLimitView, type LimitView } from './views.js';

/**
 * Upsert by natural key (subject, scope, metric, slot): `created` tells 201 from 200.
 * `now` (epoch ms) stamps createdAt/updatedAt from the service clock.
 */
export async function putLimit(
  ctx: AdminContext,
  input: LimitInput,
  now: number,
): Promise<{ limit: LimitView; created: boolean }> {
  const draft = valid(validateLimit(input));
  return adminWrite(ctx, async (tx) => {
    await requireScope(tx, draft.modelGroupId);
    await requireSubject(tx, draft.subjectType, draft.subjectId);
    await lockLimitKey(tx, draft);
    const before = await findLimitByKey(tx, draft);
    const { limit, created } = await upsertLimit(tx, draft, now);
    const after = toLimitView(limit);
    return {
      result: { limit: after, created },
      audit: {
        action: 'limit.upsert',
        entityType: 'limit',
        entityId: limit.id,
        before: before && toLimitView(before),
        after,
      },
    };
  });
}

export async function listLimits(db: Db, filter: LimitFilter): Promise<LimitView[]> {
  return (await listLimitRows(db, filter)).map(toLimitView);
}

export async function getLimit(db: Db, id: number): Promise<LimitView> {
  const limit = await findLimit(db, id);
  if (!limit) throw notFound('limit', id);
  return toLimitView(limit);
}

export function deleteLimit(ctx: AdminContext, id: number): Promise<void> {
  return adminWrite(ctx, async (tx) => {
    const removed = await deleteLimitRow(tx, id);
    if (!removed) throw notFound('limit', id);
    return {
      result: undefined,
      audit: {
        action: 'limit.delete',
        entityType: 'limit',
        entityId: id,
        before: toLimitView(removed),
        after: null,
      },
    };
  });
}
