import { z } from 'zod';
import { MAX_ROW_ID } from '../../domain/limit-rules.js';

/** Ids are serials (positive int4): one message whatever is wrong, `abc`, `0`, `1.5` or 20 digits. */
export const ROW_ID_MESSAGE = `must be a positive integer id (1 to ${MAX_ROW_ID})`;

/** A numeric id in a path or query: the text is coerced, so `/limits/abc` is NaN, not a string. */
export const rowId = () =>
  z.coerce
    .number({ error: ROW_ID_MESSAGE })
    .int({ error: ROW_ID_MESSAGE, abort: true })
    .min(1, { error: ROW_ID_MESSAGE, abort: true })
    .max(MAX_ROW_ID, ROW_ID_MESSAGE);

/** `{ id }` path params of one row, e.g. `/admin/limits/{id}`. */
export const rowIdParams = (what: string) => z.object({ id: rowId().describe(`Numeric id of the ${what}`) });
