import { AppError, notFound } from '../domain/errors.js';
import type { RuleResult } from '../domain/limit-rules.js';
import type { Tx } from '../db/client.js';
import { lockModelGroupRef, lockUserGroupRef } from '../db/repositories/references.js';

/** The draft of a passed rule check, or a 400 naming every invalid field. */
export function valid<T>(result: RuleResult<T>): T {
  if (result.ok) return result.value;
  const detail = result.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
  throw new AppError('validation_failed', detail, {}, result.errors);
}

/** 404 unless the model group exists; locks it until the transaction ends. Null: all models. */
export async function requireScope(tx: Tx, modelGroupId: number | null): Promise<void> {
  if (modelGroupId !== null && !(await lockModelGroupRef(tx, modelGroupId))) {
    throw notFound('model group', modelGroupId);
  }
}

/** A user_group subject names an existing group by id (the rules checked the form). */
export async function requireSubject(tx: Tx, subjectType: string, subjectId: string): Promise<void> {
  if (subjectType === 'user_group' && !(await lockUserGroupRef(tx, Number(subjectId)))) {
    throw notFound('user group', subjectId);
  }
}
