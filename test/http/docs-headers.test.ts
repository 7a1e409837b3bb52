import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SECURITY_HEADERS } from '../../src/http/security-headers.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);

/** /docs (swagger-ui) is a browser page like the console: the same security headers, and it still works under them. */
describeWithPostgres('/docs', () => {
  const databaseUrl = useTestDatabase();
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ databaseUrl: databaseUrl() });
  });
  afterAll(() => t?.close());

  it('sends the console security headers on its page, its scripts, its styles and its document', async () => {
    const urls = [
      '/docs',
      '/docs/',
      '/docs/static/swagger-ui-bundle.js',
      '/docs/static/swagger-initializer.js',
      '/docs/static/swagger-ui.css',
      '/docs/json',
    ];
    for (const url of urls) {
      const response = await t.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBeLessThan(400);
      for (const [name, value] of Object.entries(SECURITY_HEADERS))
        expect(response.headers[name], `${url} ${name}`).toBe(value);
    }
  });

  it('shares them with the console: no inline scripts, frames refused', () => {
    expect(SECURITY_HEADERS['content-security-policy']).toMatch(/script-src 'self';/);
    expect(SECURITY_HEADERS['content-security-policy']).toMatch(/frame-ancestors 'none'/);
  });

  (hasChromium ? it : it.skip)(
    'renders in Chromium under that policy: the document loads, with no CSP violation',
    async () => {
      const base = await t.app.listen({ port: 0, host: '127.0.0.1' });
      const profile = mkdtempSync(join(tmpdir(), 'qg-docs-chromium-'));
      let context: BrowserContext | undefined;
      try {
        context = await chromium.launchPersistentContext(profile, {
          executablePath: CHROMIUM,
          headless: true,
          args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
        });
        const page = context.pages()[0] ?? (await context.newPage());
        const violations: string[] = [];
        page.on('console', (message) => {
          if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
        });
        await page.goto(`${base}/docs/`);
        await page.locator('.swagger-ui .info .title', { hasText: 'quotagate' }).waitFor({ timeout: 15_000 });
        await page.locator('.opblock-tag', { hasText: 'decisions' }).first().waitFor({ timeout: 5_000 });
        expect(violations).toEqual([]);
      } finally {
        await Promise.race([context?.close(), new Promise((resolve) => setTimeout(resolve, 15_000))]);
        rmSync(profile, { recursive: true, force: true });
      }
    },
    60_000,
  );
});
