import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from './api';
import type { Items, ModelGroup, UserGroup } from './types';

/** Loads a list; `reload()` after a write. */
export function useList<T>(path: string) {
  const [items, setItems] = useState<T[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    api<Items<T>>('GET', path)
      .then((r) => live && (setItems(r.items), setError(null)))
      .catch((e: unknown) => live && setError(e instanceof ApiError ? `${e.detail} (${e.code})` : String(e)));
    return () => {
      live = false;
    };
  }, [path, tick]);
  return { items, error, reload: () => setTick((t) => t + 1) };
}

/** The API names groups by id; the console shows their names ("#id" once a group is gone). */
export interface GroupNames {
  model(id: number | null): string;
  user(id: number | string): string;
}

export function groupNames(models: readonly ModelGroup[], users: readonly UserGroup[]): GroupNames {
  return {
    model: (id) => (id === null ? 'all models' : (models.find((g) => g.id === id)?.name ?? `#${id}`)),
    user: (id) => users.find((g) => String(g.id) === String(id))?.name ?? `#${id}`,
  };
}

/** Both group lists, loaded once per page. */
export function useGroupNames(): GroupNames & { models: ModelGroup[]; users: UserGroup[] } {
  const models = useList<ModelGroup>('/admin/model-groups').items;
  const users = useList<UserGroup>('/admin/user-groups').items;
  return { ...groupNames(models, users), models, users };
}

/** A limit's, boost's or bucket source's subject: `user u-42`, `user group pro`, `key k-9`. */
export function subjectLabel(names: GroupNames, subjectType: string, subjectId: string): string {
  if (subjectType === 'user_group') return `user group ${names.user(subjectId)}`;
  return `${subjectType} ${subjectId}`;
}
