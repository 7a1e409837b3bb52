import { z } from 'zod';
import { FREE_TEXT, FREE_TEXT_MESSAGE, PRINTABLE, PRINTABLE_MESSAGE } from '../../domain/text-rules.js';
import { rowIdParams } from './row-id.js';

export { PRINTABLE, PRINTABLE_MESSAGE } from '../../domain/text-rules.js';

/** Fields shared by the model-group and user-group admin schemas (SPEC §1, §5). */
export const idParams = rowIdParams('group');

/** Longest user, key, model and session id (characters). */
export const ID_MAX = 256;

export const groupName = z
  .string()
  .trim()
  .min(1, { abort: true })
  .max(100)
  .regex(PRINTABLE, PRINTABLE_MESSAGE)
  .describe('Unique name, 1–100 printable characters (trimmed)');

/** Descriptions and reasons: free text (src/domain/text-rules.ts), at most `max` characters. */
export const freeText = (max: number) =>
  z
    .string()
    .max(max)
    .regex(FREE_TEXT, FREE_TEXT_MESSAGE)
    .describe(
      `Free text for operators, at most ${max} characters; no control characters but tab and line breaks`,
    );

export const groupDescription = freeText(1000);

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
