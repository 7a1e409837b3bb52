import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerErrorHandling } from '../../src/http/problem.js';
import { consoleRoutes } from '../../src/http/routes/console.js';
import type { ZodApp } from '../../src/http/types.js';
import { ADMIN_TOKEN, SERVICE_TOKEN, startTestApp, type TestApp } from '../support/app.js';
import { services, useTestDatabase } from '../support/services.js';

/**
 * The operator console (SPEC 7.3) in a real headless Chromium against the real app on a
 * loopback port: sign in, create through the forms, see an API validation error next to
 * its field, see the lists, and the usage bars after a few settles.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUT = join(process.cwd(), 'test-output', 'console');
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  const message = `${CHROMIUM} not found: the console browser test is skipped (apt-get install chromium)`;
  if (process.env.QUOTAGATE_REQUIRE_SERVICES === '1') throw new Error(message);
  console.warn(`\n*** ${message} ***\n`);
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** dist/console is what /console serves: (re)built when missing or older than its sources. */
function ensureConsoleBuilt(): void {
  const index = join(process.cwd(), 'dist', 'console', 'index.html');
  if (existsSync(index) && statSync(index).mtimeMs >= newestMtime(join(process.cwd(), 'src', 'console')))
    return;
  execFileSync('npx', ['vite', 'build', '--config', 'src/console/vite.config.ts'], { stdio: 'inherit' });
}

describe('console route without a build', () => {
  it('answers 503 naming the fix, and 404 problem documents for other files', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'qg-console-empty-'));
    const app = Fastify();
    registerErrorHandling(app);
    await app.register((instance) => consoleRoutes(instance as unknown as ZodApp, { dir: empty }));
    try {
      const index = await app.inject({ url: '/console' });
      expect(index.statusCode).toBe(503);
      expect(index.body).toBe('console not built: npm run build');
      const asset = await app.inject({ url: '/console/assets/x.js' });
      expect(asset.statusCode).toBe(404);
      expect(asset.json()).toMatchObject({ code: 'not_found' });
      // A browser's automatic /favicon.ico gets an empty answer, not a 404.
      const icon = await app.inject({ url: '/favicon.ico' });
      expect(icon.statusCode).toBe(204);
      expect(icon.body).toBe('');
    } finally {
      await app.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

(hasChromium ? describe : describe.skip)('operator console in Chromium', () => {
  const databaseUrl = useTestDatabase();
  let t: TestApp;
  let base = '';
  let context: BrowserContext;
  let page: Page;
  let profile = '';
  const shots: string[] = [];

  const shot = async (name: string) => {
    const path = join(OUT, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    shots.push(path);
  };
  const form = (id: string) => page.locator(`#${id}`);
  /** A gateway's /reserve or /settle for u-42 on opus, expected to pass. */
  const decide = async (path: '/reserve' | '/settle', body: Record<string, unknown>) => {
    const response = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SERVICE_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'u-42', model: 'claude-opus-4-1', ...body }),
    });
    expect(response.status, `${path}: ${await response.text()}`).toBe(200);
  };
  /** The computed colour of an element: what the user sees, whatever class drew it. */
  const colourOf = async (selector: string) =>
    String(
      await page.evaluate(
        `getComputedStyle(document.querySelector(${JSON.stringify(selector)})).backgroundColor`,
      ),
    );
  const RED = 'rgb(198, 40, 40)';
  const GREEN = 'rgb(46, 125, 50)';

  beforeAll(async () => {
    ensureConsoleBuilt();
    mkdirSync(OUT, { recursive: true });
    t = await startTestApp({ databaseUrl: services.postgresUrl ? databaseUrl() : undefined });
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    profile = mkdtempSync(join(tmpdir(), 'qg-console-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      // A zone with an abbreviation and an offset from UTC: times must say which zone they are in.
      timezoneId: 'Europe/Berlin',
      locale: 'en-GB',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(10_000);
  }, 60_000);

  afterAll(async () => {
    // Closing Chromium once hung past the hook's minute on a loaded host (the tests had
    // passed): teardown waits a while, then goes on.
    await Promise.race([context?.close(), new Promise((resolve) => setTimeout(resolve, 15_000))]);
    if (profile) rmSync(profile, { recursive: true, force: true });
    await t?.close();
    if (shots.length) console.log(`console screenshots:\n  ${shots.join('\n  ')}`);
  });

  it('serves its static files without a token, and nothing outside them', async () => {
    const index = await fetch(`${base}/console`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    const html = await index.text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${base}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect(asset.headers.get('cache-control')).toMatch(/immutable/);
    expect((await fetch(`${base}/console/assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${base}/console/%2e%2e/%2e%2e/package.json`)).status).toBe(404);
    // Its data still needs the admin token.
    expect((await fetch(`${base}/admin/model-groups`)).status).toBe(401);
    // Its icon: linked from the page, and at /favicon.ico for every other page of the origin.
    expect(html).toContain('<link rel="icon" type="image/svg+xml" href="/console/favicon.svg"');
    for (const path of ['/console/favicon.svg', '/favicon.ico']) {
      const icon = await fetch(`${base}${path}`);
      expect(icon.status, path).toBe(200);
      expect(icon.headers.get('content-type')).toBe('image/svg+xml');
      expect(icon.headers.get('x-content-type-options')).toBe('nosniff');
      expect(icon.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(await icon.text()).toMatch(/^<svg /);
    }
  });

  it('signs in, creates through the forms, shows field errors, lists, and draws usage', async () => {
    await page.goto(`${base}/console`);
    const signin = form('signin-form');
    await signin.locator('[name="token"]').fill('not-a-token');
    await signin.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => signin.locator('.form-error').textContent()).toMatch(/unauthorized/);
    await shot('01-signin');
    await signin.locator('[name="token"]').fill(ADMIN_TOKEN);
    await signin.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('header nav').waitFor();
    expect(await page.evaluate('Object.keys(sessionStorage)')).toEqual(['quotagate.console.token']);
    expect(await page.evaluate('Object.keys(localStorage)')).toEqual([]);

    // Model groups
    const mg = form('model-group-form');
    await mg.locator('[name="name"]').fill('opus');
    await mg.locator('[name="models"]').fill('claude-opus-4-1, claude-opus-4-5');
    await mg.getByRole('button', { name: 'Create model group' }).click();
    await page.locator('#model-groups tbody tr', { hasText: 'opus' }).waitFor();
    expect(await page.locator('#model-groups tbody tr').first().textContent()).toContain('claude-opus-4-5');
    // A second group claiming the same model: the API's 409 shows above the form.
    await mg.locator('[name="name"]').fill('opus-again');
    await mg.locator('[name="models"]').fill('claude-opus-4-1');
    await mg.getByRole('button', { name: 'Create model group' }).click();
    await expect.poll(() => mg.locator('.form-error').textContent()).toMatch(/model_conflict/);
    await shot('02-model-groups');

    // User groups
    await page.goto(`${base}/console#/user-groups`);
    const ug = form('user-group-form');
    await ug.locator('[name="name"]').fill('pro');
    await ug.getByRole('button', { name: 'Create user group' }).click();
    await page.locator('#user-groups tbody tr', { hasText: 'pro' }).waitFor();
    const members = page.locator('form', { hasText: 'Add members' });
    await members.locator('[name="id"]').selectOption({ label: 'pro' });
    await members.locator('[name="userIds"]').fill('u-42');
    await members.getByRole('button', { name: 'Add members' }).click();
    await expect
      .poll(() => page.locator('#user-groups tbody tr', { hasText: 'pro' }).textContent())
      .toMatch(/1$/);
    await shot('03-user-groups');

    // Limits: a bad window first — the API's message sits next to the window field.
    await page.goto(`${base}/console#/limits`);
    const lf = form('limit-form');
    await lf.locator('[name="subjectId"]').fill('u-42');
    await lf.locator('[name="modelGroupId"] option', { hasText: 'opus' }).waitFor({ state: 'attached' });
    await lf.locator('[name="modelGroupId"]').selectOption({ label: 'opus (#1)' });
    await lf.locator('[name="metric"]').selectOption('cost');
    await lf.locator('[name="window"]').fill('5 hours');
    await lf.locator('[name="limit"]').fill('10');
    await lf.locator('[name="alertAt"]').fill('0.5, 0.8');
    await lf.getByRole('button', { name: 'Save limit' }).click();
    const windowError = lf.locator('.field-error[data-field="window"]');
    await windowError.waitFor();
    expect(await windowError.textContent()).toMatch(/\S/);
    expect(await lf.locator('.field-error').count()).toBe(1);
    await shot('04-limits-validation-error');
    await lf.locator('[name="window"]').fill('5h');
    await lf.getByRole('button', { name: 'Save limit' }).click();
    await page.locator('#limits tbody tr', { hasText: 'cost' }).waitFor();
    await expect.poll(() => lf.locator('.field-error').count()).toBe(0);
    // A second limit: 5 requests in a rolling 20h, in shadow.
    await lf.locator('[name="subjectId"]').fill('u-42');
    await lf.locator('[name="metric"]').selectOption('requests');
    await lf.locator('[name="window"]').fill('20h');
    await lf.locator('[name="limit"]').fill('5');
    await lf.locator('[name="mode"]').selectOption('shadow');
    await lf.getByRole('button', { name: 'Save limit' }).click();
    await page.locator('#limits tbody tr', { hasText: 'requests' }).waitFor();
    expect(await page.locator('#limits tbody tr').count()).toBe(2);
    // A group's limit: the group picked and listed by its name, never `user_group:1`.
    await lf.locator('[name="subjectType"]').selectOption('user_group');
    await lf.locator('[name="subjectId"]').selectOption({ label: 'pro (#1)' });
    await lf.locator('[name="metric"]').selectOption('sessions');
    await lf.locator('[name="window"]').fill('20h');
    await lf.locator('[name="limit"]').fill('3');
    await lf.getByRole('button', { name: 'Save limit' }).click();
    const sessionsRow = page.locator('#limits tbody tr', { hasText: 'sessions' });
    await sessionsRow.waitFor();
    expect(await sessionsRow.locator('td').nth(1).textContent()).toBe('user group pro');
    // Cost limits in dollars, counts as counts.
    const costRow = page.locator('#limits tbody tr', { hasText: 'cost' });
    expect(await costRow.locator('td').nth(1).textContent()).toBe('user u-42');
    expect(await costRow.locator('td').nth(5).textContent()).toBe('$10.00');
    expect(await sessionsRow.locator('td').nth(5).textContent()).toBe('3');
    // The limit field says what it counts in.
    expect(await lf.locator('.hint').allTextContents()).toContain('in US dollars ($), e.g. 2.50');
    await shot('05-limits-all');
    // A default for everyone: its subject id is "*", shown, not typed; no override box.
    await lf.locator('[name="subjectType"]').selectOption('everyone');
    expect(await lf.locator('[name="subjectId"]').inputValue()).toBe('*');
    expect(await lf.locator('[name="override"]').count()).toBe(0);
    await lf.locator('[name="window"]').fill('weekly');
    await lf.locator('[name="limit"]').fill('2');
    await lf.getByRole('button', { name: 'Save limit' }).click();
    const defaultRow = page.locator('#limits tbody tr', { hasText: 'everyone' });
    await defaultRow.waitFor();
    expect(await defaultRow.locator('td').nth(1).textContent()).toBe('everyone *');
    // An override: a user limit's checkbox; the row says so.
    await lf.locator('[name="subjectId"]').fill('u-blocked');
    await lf.locator('[name="window"]').fill('weekly');
    await lf.locator('[name="limit"]').fill('0');
    await lf.locator('[name="override"]').check();
    await lf.getByRole('button', { name: 'Save limit' }).click();
    const overrideRow = page.locator('#limits tbody tr', { hasText: 'u-blocked' });
    await overrideRow.waitFor();
    expect(await overrideRow.locator('td').nth(5).textContent()).toBe('$0.00 override');
    await shot('05-limits-default-override');
    for (const row of [defaultRow, overrideRow]) await row.getByRole('button', { name: 'delete' }).click();
    await expect.poll(() => page.locator('#limits tbody tr').count()).toBe(3);
    // Edit: the row fills the form; saving upserts the same limit.
    await page
      .locator('#limits tbody tr', { hasText: 'requests' })
      .getByRole('button', { name: 'edit' })
      .click();
    expect(await lf.locator('[name="window"]').inputValue()).toBe('20h');
    await lf.locator('[name="mode"]').selectOption('enforce');
    await lf.getByRole('button', { name: 'Save limit' }).click();
    await expect
      .poll(() => page.locator('#limits tbody tr', { hasText: 'requests' }).textContent())
      .toContain('enforce');
    expect(await page.locator('#limits tbody tr').count()).toBe(3);
    // Filter
    const filter = form('limit-filter');
    await filter.locator('[name="metric"]').selectOption('requests');
    await filter.getByRole('button', { name: 'Apply filter' }).click();
    await expect.poll(() => page.locator('#limits tbody tr').count()).toBe(1);
    await shot('05-limits-filtered');

    // Boosts: +5 on the cost bucket until February.
    await page.goto(`${base}/console#/boosts`);
    const bf = form('boost-form');
    await bf.locator('[name="subjectId"]').fill('u-42');
    await bf.locator('[name="modelGroupId"] option', { hasText: 'opus' }).waitFor({ state: 'attached' });
    await bf.locator('[name="modelGroupId"]').selectOption({ label: 'opus (#1)' });
    await bf.locator('[name="amount"]').fill('0');
    await bf.locator('[name="expiresAt"]').fill('2027-02-01T00:00');
    await bf.getByRole('button', { name: 'Create boost' }).click();
    await bf.locator('.field-error[data-field="amount"]').waitFor();
    await bf.locator('[name="amount"]').fill('5');
    await bf.locator('[name="reason"]').fill('launch week');
    await bf.getByRole('button', { name: 'Create boost' }).click();
    const boostRow = page.locator('#boosts tbody tr', { hasText: 'launch week' });
    await boostRow.waitFor();
    // Dollars with their sign; the expiry typed in Berlin time, shown with its zone.
    expect(await boostRow.locator('td').nth(5).textContent()).toBe('+$5.00');
    expect(await boostRow.locator('td').nth(7).textContent()).toBe('2027-02-01 00:00 CET');
    expect(await boostRow.locator('td').nth(6).textContent()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d CES?T$/);
    await shot('06-boosts');

    // Webhooks: the secret is shown once.
    await page.goto(`${base}/console#/webhooks`);
    const wf = form('webhook-form');
    await wf.locator('[name="url"]').fill('not a url');
    await wf.getByRole('button', { name: 'Create webhook' }).click();
    await wf.locator('.field-error[data-field="url"]').waitFor();
    await wf.locator('[name="url"]').fill('http://127.0.0.1:9/hook');
    await wf.getByRole('button', { name: 'Create webhook' }).click();
    expect(await page.locator('#webhook-secret code').textContent()).toMatch(/^whsec_/);
    await page.locator('#webhooks tbody tr').getByRole('button', { name: 'deliveries' }).click();
    await page.locator('#deliveries').waitFor();
    await shot('07-webhooks');

    // Three sessions of one request each, settled at $2.50: 7.50 of 15 (10 + 5 boost),
    // 3 of 5 requests, 3 of pro's 3 sessions.
    for (const id of ['r-1', 'r-2', 'r-3']) {
      await decide('/reserve', { requestId: id, sessionId: `s-${id}` });
      await decide('/settle', { requestId: id, costUsd: 2.5 });
    }
    // And $0.50 held by a request still running: 4 of 5 requests.
    await decide('/reserve', { requestId: 'r-4', estimatedCostUsd: 0.5 });
    await page.goto(`${base}/console#/usage`);
    const uf = form('usage-form');
    await uf.locator('[name="userId"]').fill('u-42');
    await uf.locator('[name="model"]').fill('claude-opus-4-1');
    await uf.getByRole('button', { name: 'Show usage' }).click();
    await page.locator('#usage .bucket').first().waitFor();
    const lines = await page.locator('#usage .bucket-line').allTextContents();
    expect(lines).toHaveLength(3);
    // Tomorrow, in the browser's zone, named.
    expect(lines.find((l) => l.includes('requests'))).toMatch(
      /^4 \/ 5 requests used in the last 20h — next back at \d{4}-\d\d-\d\d \d\d:\d\d CES?T$/,
    );
    // The sessions cap is used up: drawn red though this query asks for nothing, with the
    // group that set it by name; the requests bar, with room left, stays green.
    const sessions = page.locator('#usage .bucket', { hasText: 'sessions used' });
    expect(await sessions.locator('.bucket-line').textContent()).toMatch(
      /^3 \/ 3 sessions used in the last 20h/,
    );
    expect(await sessions.getAttribute('class')).toContain('exhausted');
    expect(await colourOf('#usage .bucket[data-bucket$="|sessions|20h"] .bar .used')).toBe(RED);
    expect(await sessions.locator('.source').textContent()).toMatch(
      /^cap from user group pro \(limit #\d+\)$/,
    );
    expect(await colourOf('#usage .bucket[data-bucket$="|requests|20h"] .bar .used')).toBe(GREEN);
    expect(lines.find((l) => l.startsWith('$'))).toMatch(
      /^\$7\.50 \/ \$15\.00 used in the last 5h, \$0\.50 held — next back at/,
    );
    const cost = page.locator('#usage .bucket', { hasText: '$7.50' });
    // One money format beside another: `$0.50` next to `$7.50`, never `$0.5000`.
    expect(await cost.locator('.bucket-nums').textContent()).toMatch(
      /^used \$7\.50 · held \$0\.50 · limit \$10\.00 \+ boost \$5\.00 · remaining \$7\.00/,
    );
    // Its model group by name, not `group #1`.
    expect(await cost.locator('.bucket-head small').textContent()).toMatch(
      /^user u-42 · opus · cap from user u-42/,
    );
    expect(await cost.locator('.bar .used').getAttribute('style')).toMatch(/width: 50%/);
    expect(await cost.locator('.bar .limit-mark').count()).toBe(1);
    await shot('08-usage');

    // Reset marker: the requests bucket starts over.
    await page.goto(`${base}/console#/resets`);
    const rf = form('reset-form');
    await rf.locator('[name="subjectId"]').fill('u-42');
    await rf.locator('[name="modelGroupId"] option', { hasText: 'opus' }).waitFor({ state: 'attached' });
    await rf.locator('[name="modelGroupId"]').selectOption({ label: 'opus (#1)' });
    await rf.locator('[name="metric"]').selectOption('requests');
    await rf.locator('[name="window"]').fill('20h');
    await rf.getByRole('button', { name: 'Reset bucket' }).click();
    await page.locator('#resets tbody tr', { hasText: 'requests' }).waitFor();
    await shot('09-resets');

    // Audit: every change above, by the token's name.
    await page.goto(`${base}/console#/audit`);
    await page.locator('#audit tbody tr').first().waitFor();
    expect(await page.locator('#audit tbody tr').count()).toBeGreaterThanOrEqual(7);
    expect(await page.locator('#audit tbody tr').first().textContent()).toContain('ops');
    await shot('10-audit');
  }, 60_000);
});
