import { z } from 'zod';

/** Fields shared by the model-group and user-group admin schemas (SPEC §1, §5). */
const INT4_MAX = 2_147_483_647;
const ID_MESSAGE = `must be an integer id from 1 to ${INT4_MAX}`;

export const idParams = z.object({
  id: z.coerce
    .number({ error: ID_MESSAGE })
    .int({ error: ID_MESSAGE, abort: true })
    .min(1, ID_MESSAGE)
    .max(INT4_MAX, ID_MESSAGE)
    .describe('Numeric id of the group'),
});

export const groupName = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .describe('Unique name, 1–100 characters (trimmed)');

export const groupDescription = z
  .string()
  .max(1000)
  .describe('Free text for operators, at most 1000 characters');

/** `\p{C}`: control, format, surrogate, private-use and unassigned code points. */
const PRINTABLE = /^[^\p{C}]+$/u;

const opaqueId = (what: string) =>
  z
    .string()
    .min(1, { error: 'must not be empty', abort: true })
    .max(256)
    .regex(PRINTABLE, 'must contain only printable characters')
    .describe(`${what}: 1–256 printable characters, case-sensitive`);

export const modelId = opaqueId('Model id exactly as the gateway sends it').meta({
  examples: ['claude-opus-4-1'],
});
export const userId = opaqueId('User id as the gateway sends it').meta({ examples: ['u-42'] });

export const timestamp = (what: string) => z.iso.datetime().describe(what);
