/** Form parts and error handling shared by the admin pages. */
import { ApiError } from './api';
import type { ModelGroup, UserGroup } from './types';
import { Field, type Form } from './ui';

export function groupOptions(groups: ModelGroup[]): [string, string][] {
  return [['', 'all models'], ...groups.map((g): [string, string] => [String(g.id), `${g.name} (#${g.id})`])];
}

/** The subject id field: a user group is picked by name, a user or key typed. */
export function SubjectIdField({ form, groups, label }: { form: Form; groups: UserGroup[]; label?: string }) {
  const byName = form.values.subjectType === 'user_group';
  return (
    <Field
      form={form}
      name="subjectId"
      label={label ?? (byName ? 'User group' : 'Subject id')}
      placeholder={byName ? undefined : 'u-42'}
      options={
        byName
          ? [['', '—'], ...groups.map((g): [string, string] => [String(g.id), `${g.name} (#${g.id})`])]
          : undefined
      }
    />
  );
}

/** What the amount of a limit or boost is counted in, by metric. */
export function amountHint(metric: string | undefined): string {
  if (metric === 'cost') return 'in US dollars ($), e.g. 2.50';
  if (metric === 'concurrency') return 'requests in flight at once';
  return `a count of ${(metric ?? '').replace('_', ' ')}`;
}

export async function guarded(action: () => Promise<unknown>, setError: (e: string | null) => void) {
  try {
    setError(null);
    await action();
  } catch (e) {
    setError(e instanceof ApiError ? `${e.detail} (${e.code})` : String(e));
  }
}
