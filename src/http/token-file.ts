import {
  closeSync,
  fchmodSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { tokenListSchema, type AppConfig } from '../config.js';
import { resolveTokens, type KeptTokens, type ResolvedTokens, type Role } from './auth.js';

/**
 * Tokens generated outside production are kept in `${DATA_DIR}/tokens.json` (mode 0600), so
 * the next start accepts the same ones (SPEC §6 Auth). Its members are the environment
 * variables they stand in for, in the same format: a value can be copied into the env as is.
 */
export const TOKEN_FILE_NAME = 'tokens.json';

const fileSchema = z.strictObject({
  ADMIN_TOKENS: tokenListSchema,
  SERVICE_TOKENS: tokenListSchema,
});

const VARIABLE: Record<Role, 'ADMIN_TOKENS' | 'SERVICE_TOKENS'> = {
  admin: 'ADMIN_TOKENS',
  service: 'SERVICE_TOKENS',
};

export class TokenFileError extends Error {
  override name = 'TokenFileError';
}

export interface StartTokens {
  tokens: ResolvedTokens;
  /** The token file, or null when the environment configures both lists (or in production). */
  file: string | null;
}

export const tokenFilePath = (dataDir: string) => path.join(dataDir, TOKEN_FILE_NAME);

/**
 * The tokens a start serves with: configured lists win; a missing one is read from the file,
 * or generated and added to it. A file that exists but cannot be used stops the start:
 * regenerating would lock out every gateway holding the old tokens.
 */
export function loadOrCreateTokens(config: AppConfig): StartTokens {
  if (config.NODE_ENV === 'production' || (config.ADMIN_TOKENS && config.SERVICE_TOKENS)) {
    return { tokens: resolveTokens(config), file: null };
  }
  const file = tokenFilePath(config.DATA_DIR);
  const kept = readTokenFile(file) ?? {};
  const tokens = resolveTokens(config, kept);
  if (tokens.generated.length > 0) {
    const next: KeptTokens = { ...kept };
    for (const { role } of tokens.generated) next[role] = tokens[role];
    writeTokenFile(file, next);
  }
  return { tokens, file };
}

/** The kept lists, or null when there is no file; a TokenFileError for anything else. */
export function readTokenFile(file: string): KeptTokens | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw unusable(file, (err as Error).message);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw unusable(file, 'not valid JSON');
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    throw unusable(
      file,
      parsed.error.issues.map((i) => `${i.path.join('.') || 'file'}: ${i.message}`).join('; '),
    );
  }
  return {
    ...(parsed.data.ADMIN_TOKENS ? { admin: parsed.data.ADMIN_TOKENS } : {}),
    ...(parsed.data.SERVICE_TOKENS ? { service: parsed.data.SERVICE_TOKENS } : {}),
  };
}

/** Writes the file atomically (a 0600 temp file, fsynced, renamed over it); creates DATA_DIR. */
export function writeTokenFile(file: string, kept: KeptTokens): void {
  const body: Partial<Record<(typeof VARIABLE)[Role], string>> = {};
  for (const role of ['admin', 'service'] as const) {
    const list = kept[role];
    if (list) body[VARIABLE[role]] = list.map((t) => `${t.name}:${t.token}`).join(',');
  }
  const dir = path.dirname(file);
  const temp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    rmSync(temp, { force: true });
    const fd = openSync(temp, 'wx', 0o600);
    try {
      fchmodSync(fd, 0o600); // whatever the umask
      writeSync(fd, `${JSON.stringify(body, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (err) {
    rmSync(temp, { force: true });
    throw new TokenFileError(`cannot write the token file ${file}: ${(err as Error).message}`);
  }
  syncDirectory(dir);
}

/** Makes the rename durable; some platforms cannot open a directory, which is no failure. */
function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // best effort
  }
}

const unusable = (file: string, reason: string) =>
  new TokenFileError(
    `the token file ${file} cannot be used (${reason}); repair it, or set ADMIN_TOKENS and ` +
      'SERVICE_TOKENS; deleting it makes new tokens that no configured gateway knows',
  );
