import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Cleanup } from './harness.js';
import { demand } from './scenarios.js';
import { userIdOf } from './seed.js';

/**
 * The floor row's fixture: for every user, the decide EVALSHA quotagate sent for that user's
 * /check (as Redis' MONITOR saw it) and the body quotagate answered. A bare route replaying
 * them does exactly /check's Redis work and writes a reply of /check's size, with none of
 * quotagate's own JavaScript: the most a /check could reach with the script it has.
 */
export interface ReplayFixture {
  /** userId → ['evalsha', sha, numkeys, ...keys, ...args]. */
  calls: Record<string, string[]>;
  /** userId → the JSON body /check answered. */
  bodies: Record<string, string>;
}

/** Keys look like `<prefix>:{<base64url user id>}:warm`: the hash tag names the user. */
function userOfCall(args: string[], prefix: string): string | null {
  if (args[0]?.toLowerCase() !== 'evalsha') return null;
  const first = args[3] ?? '';
  const tag = new RegExp(`^${prefix}:\\{([A-Za-z0-9_-]+)\\}:warm$`).exec(first)?.[1];
  return tag === undefined ? null : Buffer.from(tag, 'base64url').toString('utf8');
}

/**
 * One /check per user with the measured scenario's body (demand), one at a time, under
 * MONITOR; returns the fixture and the file it was written to (for the floor's process).
 */
export async function captureDecideCalls(options: {
  redisUrl: string;
  prefix: string;
  quotagateUrl: string;
  token: string;
  users: number;
  cleanup: Cleanup;
}): Promise<{ file: string; fixture: ReplayFixture }> {
  // monitor() opens a connection of its own; the client it came from must be closed too.
  const client = new Redis(options.redisUrl);
  const monitor = await client.monitor();
  const calls: Record<string, string[]> = {};
  monitor.on('monitor', (_time: string, args: string[]) => {
    const user = userOfCall(args, options.prefix);
    if (user !== null) calls[user] ??= args;
  });
  const bodies: Record<string, string> = {};
  try {
    for (let i = 0; i < options.users; i++) {
      const res = await fetch(`${options.quotagateUrl}/check`, {
        method: 'POST',
        headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(demand(i)),
      });
      bodies[userIdOf(i)] = await res.text();
      if (res.status !== 200) throw new Error(`capture: /check for ${userIdOf(i)} answered ${res.status}`);
    }
    // MONITOR lines arrive after the replies they belong to.
    const deadline = Date.now() + 5_000;
    while (Object.keys(calls).length < options.users && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    monitor.disconnect();
    client.disconnect();
  }
  const missing = options.users - Object.keys(calls).length;
  if (missing > 0) throw new Error(`capture: MONITOR showed no decide call for ${missing} users`);
  const dir = mkdtempSync(join(tmpdir(), 'qg-bench-replay-'));
  options.cleanup.add(`remove ${dir}`, async () => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'replay.json');
  const fixture: ReplayFixture = { calls, bodies };
  writeFileSync(file, JSON.stringify(fixture));
  return { file, fixture };
}
