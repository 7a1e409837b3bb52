import { readFileSync } from 'node:fs';
import type { ClientContext, Result } from 'ioredis';
import type { RedisClient } from './client.js';

/**
 * The Lua scripts, read once from disk (src/store/redis/lua, copied to dist by the build)
 * and registered with `defineCommand`: ioredis sends EVALSHA, and EVAL only when the server
 * answers NOSCRIPT — which means the script did not run, so that resend is safe.
 * lib.lua and the bucket parts are helpers prepended to the scripts that use them.
 */
export const BUCKET_PARTS = ['lib', 'layout', 'usage', 'holds', 'buckets'] as const;

const PARTS = {
  qgDecide: [...BUCKET_PARTS, 'decide'],
  qgSettle: [...BUCKET_PARTS, 'settle'],
  qgRelease: [...BUCKET_PARTS, 'release'],
  qgExtend: [...BUCKET_PARTS, 'extend'],
  qgUndo: [...BUCKET_PARTS, 'undo'],
  qgSeed: ['lib', 'seed'],
  qgCold: ['lib', 'cold'],
  qgClaim: ['claim'],
} as const;

export type ScriptName = keyof typeof PARTS;

type ScriptCommand<Context extends ClientContext> = (
  numKeys: number,
  ...keysAndArgs: string[]
) => Result<unknown, Context>;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    qgDecide: ScriptCommand<Context>;
    qgSettle: ScriptCommand<Context>;
    qgRelease: ScriptCommand<Context>;
    qgExtend: ScriptCommand<Context>;
    qgUndo: ScriptCommand<Context>;
    qgSeed: ScriptCommand<Context>;
    qgCold: ScriptCommand<Context>;
    qgClaim: ScriptCommand<Context>;
  }
}

let sources: Record<ScriptName, string> | undefined;

/** One part's Lua source (npm run bench:script also cuts decide.lua from these). */
export const readPart = (part: string): string =>
  readFileSync(new URL(`./lua/${part}.lua`, import.meta.url), 'utf8');

function loadSources(): Record<ScriptName, string> {
  const entries = Object.entries(PARTS).map(([name, parts]) => [name, parts.map(readPart).join('\n')]);
  return Object.fromEntries(entries) as Record<ScriptName, string>;
}

/** Registers every script on a client (idempotent). */
export function registerScripts(redis: RedisClient): void {
  sources ??= loadSources();
  for (const [name, lua] of Object.entries(sources)) redis.defineCommand(name, { lua });
}

/** KEYS and ARGV of one script call; KEYS always declares every key the script touches. */
export interface ScriptCall {
  keys: string[];
  args: string[];
}

export const scriptArgs = (call: ScriptCall): [number, ...string[]] => [
  call.keys.length,
  ...call.keys,
  ...call.args,
];
