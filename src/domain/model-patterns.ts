/**
 * Which model group a model belongs to (SPEC §9.4): the group holding its exact id, else the
 * group holding the longest pattern it matches. A pattern is an entry ending in `*`; it
 * matches every model that starts with the text before the `*`, that text alone included,
 * so a bare `*` matches every model (a catch-all group). Every other entry is an exact id.
 */

const WILDCARD = '*';

export const isModelPattern = (entry: string): boolean => entry.endsWith(WILDCARD);

/** Why `entry` cannot be stored in a group, or null: a `*` may only end it, once. */
export function modelEntryProblem(entry: string): string | null {
  const at = entry.indexOf(WILDCARD);
  if (at === -1 || at === entry.length - 1) return null;
  return 'a "*" may only appear once, as the last character (a pattern such as claude-opus-*)';
}

export interface ModelMatch<G> {
  group: G;
  /** The group's entry that matched: the model's own id, or a pattern. */
  matchedBy: string;
}

export interface ModelIndex<G> {
  resolve(model: string): ModelMatch<G> | null;
}

/**
 * Indexes a group's entries once, so a resolution costs one map lookup per distinct pattern
 * length (longest first) rather than a scan of every pattern.
 */
export function buildModelIndex<G>(entries: Iterable<readonly [entry: string, group: G]>): ModelIndex<G> {
  const exact = new Map<string, G>();
  const byPrefix = new Map<string, G>();
  for (const [entry, group] of entries) {
    if (isModelPattern(entry)) byPrefix.set(entry.slice(0, -1), group);
    else exact.set(entry, group);
  }
  const prefixLengths = [...new Set([...byPrefix.keys()].map((p) => p.length))].sort((a, b) => b - a);
  return {
    resolve(model) {
      const own = exact.get(model);
      if (own !== undefined) return { group: own, matchedBy: model };
      for (const length of prefixLengths) {
        if (length > model.length) continue;
        const prefix = model.slice(0, length);
        const group = byPrefix.get(prefix);
        if (group !== undefined) return { group, matchedBy: prefix + WILDCARD };
      }
      return null;
    },
  };
}

/**
 * Every entry that could match `model`: its own id and each pattern made of one of its
 * prefixes (longest first). A store holding many entries fetches these few, then resolves
 * them with `buildModelIndex`, so the rule stays here.
 */
export function candidateEntries(model: string): string[] {
  const entries = [model];
  for (let length = model.length; length >= 0; length--) {
    // No stored entry ends inside a character: half a surrogate pair is never a prefix.
    if (isHighSurrogate(model.charCodeAt(length - 1))) continue;
    entries.push(model.slice(0, length) + WILDCARD);
  }
  return entries;
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;
