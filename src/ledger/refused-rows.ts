import type { Executor, Tx } from '../db/client.js';
import { isRowRefusal } from '../db/errors.js';

/** A row PostgreSQL refused, with the refusal (db/errors.ts isRowRefusal). */
export interface Refused<T> {
  row: T;
  err: unknown;
}

/**
 * Writes `rows` in a savepoint of `tx`; when PostgreSQL refuses the values of some row, the
 * set is halved until each refused row stands alone, so every other row still commits with
 * the transaction (log2 n savepoints per refused row, not one per row). Any failure other
 * than a refusal aborts the transaction: those rows may pass next time.
 */
export async function writeSettingAside<T>(
  tx: Tx,
  rows: T[],
  write: (executor: Executor, rows: T[]) => Promise<void>,
): Promise<Refused<T>[]> {
  if (rows.length === 0) return [];
  try {
    await tx.transaction((savepoint) => write(savepoint, rows));
    return [];
  } catch (err) {
    if (!isRowRefusal(err)) throw err;
    const [only] = rows;
    if (rows.length === 1 && only !== undefined) return [{ row: only, err }];
    const half = Math.ceil(rows.length / 2);
    const left = await writeSettingAside(tx, rows.slice(0, half), write);
    const right = await writeSettingAside(tx, rows.slice(half), write);
    return [...left, ...right];
  }
}
