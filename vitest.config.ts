import { defineConfig } from 'vitest/config';

/**
 * Three tiers, each runnable alone (`npm run test:unit`, `test:integration`, `test:http`);
 * `vitest run` runs all three. The folders of test/ mirror src/; a tier is a set of folders,
 * plus the pure tests that live in the other folders beside the code they test.
 */
const ALL = 'test/**/*.test.ts';

/** No server, no process, no network: the domain and the pure functions elsewhere. */
const UNIT = [
  'test/*.test.ts',
  'test/domain/**/*.test.ts',
  'test/alerts/allowed-hosts.test.ts',
  'test/alerts/retry-schedule.test.ts',
  'test/console/format.test.ts',
  'test/decisions/**/*.test.ts',
  'test/http/auth.test.ts',
  'test/http/token-file.test.ts',
  'test/http/schemas/**/*.test.ts',
  'test/ledger/rollup-slices.test.ts',
  'test/ops/decision-outcome.test.ts',
  'test/ops/deploy-files.test.ts',
  'test/ops/engines.test.ts',
  'test/store/keys.test.ts',
  'test/store/replies.test.ts',
  'test/store/seed-writes.test.ts',
  'test/store/store-errors.test.ts',
];

/** Adapters against the real PostgreSQL and Redis (or embedded PostgreSQL), without HTTP. */
const INTEGRATION = ['store', 'ledger', 'db', 'alerts', 'cluster', 'chaos'].map(
  (d) => `test/${d}/**/*.test.ts`,
);

/** Everything else — the app over HTTP: http, admin, client, proxies, console (Chromium), ops. */

const timeouts = { testTimeout: 30_000, hookTimeout: 60_000 };

export default defineConfig({
  test: {
    // Runs once for the whole run (not per tier) and provides the servers to every tier.
    globalSetup: ['test/support/global-setup.ts'],
    ...timeouts,
    // Two cores: more workers only adds contention on the shared PostgreSQL and Redis.
    maxWorkers: 2,
    // CI also writes a JSON report, from which .ci/run prints the plain closing line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.vitest-report.json' }]] : ['default'],
    // Each file lands in exactly one tier: a tier excludes the ones before it.
    projects: [
      { test: { name: 'unit', include: UNIT, ...timeouts } },
      { test: { name: 'integration', include: INTEGRATION, exclude: UNIT, ...timeouts } },
      { test: { name: 'http', include: [ALL], exclude: [...UNIT, ...INTEGRATION], ...timeouts } },
    ],
  },
});
