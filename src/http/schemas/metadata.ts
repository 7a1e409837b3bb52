import { isFreeText, isPrintable } from '../../domain/text-rules.js';

/**
 * `/settle`'s `metadata`: free-form JSON stored with the ledger row (jsonb). Bounded so a
 * body cannot nest past what recursive code downstream survives (5,000 levels overflowed the
 * stack) nor store text PostgreSQL refuses (NUL). Walked with an explicit stack, never by
 * recursion, so the check itself survives any depth the JSON parser produced.
 */
export const METADATA_LIMITS = {
  /** The metadata object is level 1. */
  depth: 16,
  /** Object members and array elements at every level together. */
  values: 1_000,
  /** Characters of every key and string value together. */
  text: 65_536,
} as const;

/** Why the metadata is refused (with where), or null when it may be stored. */
export function metadataProblem(metadata: Record<string, unknown>): string | null {
  const stack: { value: unknown; depth: number; path: string }[] = [
    { value: metadata, depth: 1, path: 'metadata' },
  ];
  let values = 0;
  let text = 0;
  while (stack.length > 0) {
    const { value, depth, path } = stack.pop() as (typeof stack)[number];
    if (typeof value === 'string') {
      text += value.length;
      if (!isFreeText(value)) return `must not contain control characters (found in ${path})`;
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth > METADATA_LIMITS.depth) return `must nest at most ${METADATA_LIMITS.depth} levels deep`;
    const entries: [string, unknown][] = Array.isArray(value)
      ? value.map((item, i) => [String(i), item])
      : Object.entries(value);
    values += entries.length;
    if (values > METADATA_LIMITS.values) return `must hold at most ${METADATA_LIMITS.values} values`;
    for (const [key, item] of entries) {
      if (!Array.isArray(value)) {
        text += key.length;
        if (key !== '' && !isPrintable(key)) return `keys must be printable (found in ${path})`;
      }
      stack.push({ value: item, depth: depth + 1, path: `${path}.${key}` });
    }
    if (text > METADATA_LIMITS.text) return `must hold at most ${METADATA_LIMITS.text} characters of text`;
  }
  return text > METADATA_LIMITS.text ? `must hold at most ${METADATA_LIMITS.text} characters of text` : null;
}
