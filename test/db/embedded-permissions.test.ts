import { chmodSync, lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPglite, type Database } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { webhooks } from '../../src/db/schema.js';
import { ADMIN } from '../support/app.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

/** Every path under `dir` (itself included) whose mode lets group or others in: `path mode`. */
function widePaths(dir: string): string[] {
  const entries = ['', ...(readdirSync(dir, { recursive: true }) as string[])];
  return entries
    .map((entry) => path.join(dir, entry))
    .filter((file) => (lstatSync(file).mode & 0o077) !== 0)
    .map((file) => `${path.relative(dir, file) || '.'} ${(lstatSync(file).mode & 0o777).toString(8)}`);
}

const modeOf = (file: string) => lstatSync(file).mode & 0o777;

/** Writes what a deployment's database holds that others must not read: a webhook and its secret. */
async function writeSecrets(database: Database): Promise<void> {
  await applyMigrations(database);
  await database.db
    .insert(webhooks)
    .values({ url: 'https://alerts.example.com/q', secret: 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=' });
}

// PGlite's first start unpacks a whole cluster: tens of seconds on a busy machine.
describe('embedded PostgreSQL files under DATA_DIR', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'quotagate-perm-'));
  let umask = 0;
  beforeEach(() => {
    // The widest umask: whatever the process was started with, the files end up private.
    umask = process.umask(0);
  });
  afterEach(() => {
    process.umask(umask);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('creates DATA_DIR 0700 and leaves no file or directory in it open to others, with umask 000', async () => {
    const dir = path.join(root, 'fresh');
    const database = await openPglite(dir);
    try {
      expect(modeOf(dir)).toBe(0o700);
      await writeSecrets(database);
    } finally {
      await database.close();
    }
    expect(modeOf(dir)).toBe(0o700);
    expect(readdirSync(dir, { recursive: true }).length).toBeGreaterThan(100);
    expect(widePaths(dir)).toEqual([]);
  }, 120_000);

  it('makes a DATA_DIR left open by an older version private at the next start', async () => {
    const dir = path.join(root, 'upgraded');
    const first = await openPglite(dir);
    await writeSecrets(first);
    await first.close();
    // As an older version left it: 0755, its files 0666.
    chmodSync(dir, 0o755);
    for (const entry of readdirSync(dir, { recursive: true }) as string[]) {
      const file = path.join(dir, entry);
      chmodSync(file, lstatSync(file).isDirectory() ? 0o777 : 0o666);
    }
    writeFileSync(path.join(dir, 'notes.txt'), 'left by an operator', { mode: 0o644 });

    const second = await openPglite(dir);
    try {
      // Private from the moment it is open, not only after a clean close.
      expect(modeOf(dir)).toBe(0o700);
      expect(widePaths(dir)).toEqual([]);
      expect(await second.db.select({ url: webhooks.url }).from(webhooks)).toHaveLength(1);
    } finally {
      await second.close();
    }
    expect(widePaths(dir)).toEqual([]);
  }, 120_000);
});

describe('the real server in embedded mode, both token lists set, umask 000', () => {
  const dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'quotagate-perm-srv-')), 'data');
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.stop('SIGKILL');
    rmSync(path.dirname(dataDir), { recursive: true, force: true });
  });

  it('keeps DATA_DIR 0700 while it serves and every file private after it stops', async () => {
    server = await startServerProcess(
      { DATA_DIR: dataDir },
      { preload: [`data:text/javascript,process.umask(0)`] },
    );
    const created = await fetch(`${server.url}/admin/webhooks`, {
      method: 'POST',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'https://alerts.example.com/q' }),
    });
    expect(created.status).toBe(201);
    expect(modeOf(dataDir)).toBe(0o700);
    expect(await server.stop()).toBe(0);
    expect(modeOf(dataDir)).toBe(0o700);
    expect(widePaths(dataDir)).toEqual([]);
  }, 120_000);
});
