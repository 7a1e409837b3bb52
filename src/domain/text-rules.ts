/**
 * What text quotagate stores (SPEC §1, §6). Ids, models, names and request ids are
 * PRINTABLE: no `\p{C}` (control, format, surrogate, private-use or unassigned code points).
 * Free text (descriptions, reasons, metadata values) may be anything but control characters
 * and unpaired surrogates; tab, LF and CR stay allowed for multi-line notes. NUL above all:
 * PostgreSQL stores it in neither text nor jsonb, so it is refused at the door.
 */
export const PRINTABLE = /^[^\p{C}]+$/u;
export const PRINTABLE_MESSAGE = 'must contain only printable characters';

/** Disjoint alternatives: linear on any input. */
export const FREE_TEXT = /^(?:[\t\n\r]|[^\p{Cc}\p{Cs}])*$/u;
export const FREE_TEXT_MESSAGE = 'must not contain control characters (tab and line breaks are allowed)';

export const isPrintable = (text: string): boolean => PRINTABLE.test(text);
export const isFreeText = (text: string): boolean => FREE_TEXT.test(text);
