import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

const GENERATED = /no (ADMIN|SERVICE)_TOKENS set; generated one, kept in (\S+) and shown only now: (\S+)/g;

/** The generated tokens a start printed, by role. */
function printedTokens(output: string): Map<string, { file: string; token: string }> {
  return new Map(
    [...output.matchAll(GENERATED)].map((m) => [m[1] ?? '', { file: m[2] ?? '', token: m[3] ?? '' }]),
  );
}

const get = (server: ServerProcess, url: string, token: string) =>
  fetch(`${server.url}${url}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);

describe('tokens generated without ADMIN_TOKENS/SERVICE_TOKENS, across a restart of the real server', () => {
  const dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'quotagate-kept-')), 'data');
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.stop('SIGKILL');
    rmSync(path.dirname(dataDir), { recursive: true, force: true });
  });

  // Embedded PGlite under DATA_DIR and the in-process counter store: no DATABASE_URL, no REDIS_URL.
  const start = () => startServerProcess({ DATA_DIR: dataDir, LOG_LEVEL: 'info' }, { withTokens: false });

  it('accepts the tokens printed by the first start after a restart, and prints them only once', async () => {
    server = await start();
    const first = server.output();
    const printed = printedTokens(first);
    const admin = printed.get('ADMIN')?.token ?? '';
    const service = printed.get('SERVICE')?.token ?? '';
    expect(admin).toMatch(/^qg_admin_/);
    expect(service).toMatch(/^qg_service_/);
    expect(printed.get('ADMIN')?.file).toBe(path.join(dataDir, 'tokens.json'));
    expect(statSync(path.join(dataDir, 'tokens.json')).mode & 0o777).toBe(0o600);
    expect(first.split(admin)).toHaveLength(2); // once on stderr, never in a log line
    expect(await get(server, '/admin/model-groups', admin)).toBe(200);
    expect(await get(server, '/admin/model-groups', service)).toBe(403);
    expect(await get(server, '/usage?userId=u-1', service)).toBe(200);
    expect(await server.stop()).toBe(0);

    server = await start();
    const second = server.output();
    expect(printedTokens(second).size).toBe(0);
    expect(second).not.toContain(admin);
    expect(second).not.toContain(service);
    expect(second).toMatch(/ADMIN_TOKENS, SERVICE_TOKENS unset: using the tokens kept in the token file/);
    expect(await get(server, '/admin/model-groups', admin)).toBe(200);
    expect(await get(server, '/usage?userId=u-1', service)).toBe(200);
    expect(await get(server, '/admin/model-groups', 'qg_admin_not-the-kept-one')).toBe(401);
  }, 120_000);
});
