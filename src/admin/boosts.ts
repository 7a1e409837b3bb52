import type { Db, Tx } from '../db/client.js';
import {
  deleteBoost,
  findBoost,
  insertBoost,
  listBoosts as listBoostRows,
  type BoostFilter,
} from '../db/repositories/boosts.js';
import { countLimitsOn } from '../db/repositories/limits.js';
import { userGroupIdsOf } from '../db/repositories/references.js';
import { notFound } from '../domain/errors.js';
import { validateBoost, type BoostDraft, type BoostInput } from '../domain/limit-rules.js';
import { EVERYONE_SUBJECT_ID, type LimitSubjectType } from '../domain/types.js';
import { adminWrite, type AdminContext } from './admin-write.js';
import { requireScope, valid } from './preconditions.js';
import { toBoostView, type BoostView } from './views.js';

export interface BoostCreated extends BoostView {
  warnings: string[];
}

export const NO_MATCHING_LIMIT = 'no limit matches this boost; it has no effect until one does';
export const ALREADY_EXPIRED = 'the boost expired before it was created; it never applies';

/** `now` (epoch ms) is the default start and the creation time. */
export async function createBoost(ctx: AdminContext, input: BoostInput, now: number): Promise<BoostCreated> {
  const draft = valid(validateBoost(input, now));
  return adminWrite(ctx, async (tx) => {
    await requireScope(tx, draft.modelGroupId);
    const boost = await insertBoost(tx, draft, now);
    const warnings = await warningsFor(tx, draft, now);
    const after = toBoostView(boost);
    return {
      result: { ...after, warnings },
      audit: { action: 'boost.create', entityType: 'boost', entityId: boost.id, before: null, after },
    };
  });
}

/**
 * A boost only adds to a cap that exists (SPEC §1): a user's cap may come from the
 * user's own limits, a stored user group's or a default (`everyone`) one. Groups named per
 * request (`groups`) are unknown here, so a boost relying on them alone is still reported.
 */
async function warningsFor(tx: Tx, draft: BoostDraft, now: number): Promise<string[]> {
  const owners: { subjectType: LimitSubjectType; subjectId: string }[] = [draft];
  if (draft.subjectType === 'user') {
    for (const id of await userGroupIdsOf(tx, draft.subjectId)) {
      owners.push({ subjectType: 'user_group', subjectId: String(id) });
    }
    owners.push({ subjectType: 'everyone', subjectId: EVERYONE_SUBJECT_ID });
  }
  const warnings: string[] = [];
  if ((await countLimitsOn(tx, owners, draft)) === 0) warnings.push(NO_MATCHING_LIMIT);
  if (draft.expiresAt <= now) warnings.push(ALREADY_EXPIRED);
  return warnings;
}

export async function getBoost(db: Db, id: number): Promise<BoostView> {
  const boost = await findBoost(db, id);
  if (!boost) throw notFound('boost', id);
  return toBoostView(boost);
}

export async function listBoosts(db: Db, filter: BoostFilter): Promise<BoostView[]> {
  return (await listBoostRows(db, filter)).map(toBoostView);
}

/** Deleting is revoking: the snapshot reloads before the answer, so it stops applying at once. */
export function revokeBoost(ctx: AdminContext, id: number): Promise<void> {
  return adminWrite(ctx, async (tx) => {
    const removed = await deleteBoost(tx, id);
    if (!removed) throw notFound('boost', id);
    return {
      result: undefined,
      audit: {
        action: 'boost.revoke',
        entityType: 'boost',
        entityId: id,
        before: toBoostView(removed),
        after: null,
      },
    };
  });
}
