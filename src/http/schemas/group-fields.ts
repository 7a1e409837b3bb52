import { z } from 'zod';
import { rowIdParams } from './row-id.js';

/** Fields shared by the model-group and user-group admin schemas (SPEC §1, §5). */
export const idParams = rowIdParams('group');

/** `\p{C}`: control, format, surrogate, private-use and unassigned code points. */
export const PRINTABLE = /^[^\p{C}]+$/u;
export const PRINTABLE_MESSAGE = 'must contain only printable characters';

/** Longest user, key, model and session id (characters). */
export const ID_MAX = 256;

export const groupName = z
  .string()
  .trim()
  .min(1, { abort: true })
  .max(100)
  .regex(PRINTABLE, PRINTABLE_MESSAGE)
  .describe('Unique name, 1–100 printable characters (trimmed)');

export const groupDescription = z
  .string()
  .max(1000)
  .describe('Free text for operators, at most 1000 characters');

const opaqueId = (what: string) =>
  z
    .string()
    .min(1, { error: 'must not be empty', abort: true })
    .max(ID_MAX)
    .regex(PRINTABLE, PRINTABLE_MESSAGE)
    .describe(`${what}: 1–${ID_MAX} printable characters, case-sensitive`);

export const modelId = opaqueId('Model id exactly as the gateway sends it').meta({
  examples: ['claude-opus-4-1'],
});
export const userId = opaqueId('User id as the gateway sends it').meta({ examples: ['u-42'] });

export const timestamp = (what: string) => z.iso.datetime().describe(what);
