import type { Db } from '../db/client.js';
import {
  insertResetMarker,
  listResetMarkers as listMarkerRows,
  type ResetMarkerFilter,
} from '../db/repositories/resets.js';
import { validateResetMarker, type ResetMarkerInput } from '../domain/limit-rules.js';
import { adminWrite, type AdminContext } from './admin-write.js';
import { requireScope, valid } from './preconditions.js';
import { toResetMarkerView, type ResetMarkerView } from './views.js';

/**
 * A reset marker at `now` (epoch ms): the bucket counts only usage from then on; the
 * ledger keeps the rest. Markers are append-only: the latest one of a bucket wins.
 */
export async function createResetMarker(
  ctx: AdminContext,
  input: ResetMarkerInput,
  now: number,
): Promise<ResetMarkerView> {
  const draft = valid(validateResetMarker(input));
  return adminWrite(ctx, async (tx) => {
    await requireScope(tx, draft.modelGroupId);
    const marker = toResetMarkerView(await insertResetMarker(tx, draft, now));
    return {
      result: marker,
      audit: {
        action: 'reset.create',
        entityType: 'reset_marker',
        entityId: marker.id,
        before: null,
        after: marker,
      },
    };
  });
}

export async function listResetMarkers(db: Db, filter: ResetMarkerFilter): Promise<ResetMarkerView[]> {
  return (await listMarkerRows(db, filter)).map(toResetMarkerView);
}
